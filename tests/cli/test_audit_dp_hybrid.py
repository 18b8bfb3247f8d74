"""`ehrsynth audit-dp --engine hybrid`: the audit trains the hybrid engine (pairs released, then DP-SGD) and its
lower bound stays below the claim; with the DP-SGD noise dropped (planted bug) the same audit refutes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support_audit_dp import table_csv_fixture, with_audit_dp  # noqa: F401  (fixtures)

import ehrsynth.cli.main as cli_main

ARGS = ["--engine", "hybrid", "--epsilon", "1", "--seed", "0", "--quiet", "--device", "cpu"]


def _audit(table_csv: Path, out: Path, schedule: list[str]) -> tuple[int, dict]:
    code = cli_main.main(["audit-dp", str(table_csv), "--json", str(out), *ARGS, *schedule])
    return code, json.loads(out.read_text())


def test_help_lists_the_engines(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main.main(["audit-dp", "--help"])
    out = capsys.readouterr().out
    assert "--engine" in out and "hybrid" in out and "measure" in out


def test_hybrid_engine_audit_stays_below_the_claim(table_csv: Path, tmp_path: Path) -> None:
    code, data = _audit(
        table_csv, tmp_path / "a.json", ["--canaries", "100", "--ae-epochs", "20", "--epochs", "1"]
    )
    assert code == 0 and data["refuted"] is False
    assert data["epsilon_lower_bound"] < 1.0
    (run,) = data["runs_detail"]
    names = [m["name"] for m in run["mechanisms"]]
    assert {"measure:row_cap", "autoencoder", "discriminator"} <= set(names)
    assert any(n.startswith("measure:pairs:") for n in names)
    assert run["epsilon_spent"] == pytest.approx(1.0, rel=0.01)


@pytest.mark.slow
def test_hybrid_engine_audit_catches_dp_sgd_without_noise(
    table_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planted bug of tests/cli/test_audit_dp_cli.py (noise multiplier 0 in both DP-SGD phases while the
    accountant charges the calibrated noise) is refuted on the hybrid engine too: the audit has power there."""
    from typing import Any

    import ehrsynth.training.adversarial as adversarial
    import ehrsynth.training.autoencoder as autoencoder
    from ehrsynth.dp import opacus_wiring

    real = opacus_wiring.make_private

    def no_noise(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "noise_multiplier": 0.0})

    monkeypatch.setattr(autoencoder, "make_private", no_noise)
    monkeypatch.setattr(adversarial, "make_private", no_noise)
    code, data = _audit(
        table_csv, tmp_path / "b.json", ["--canaries", "200", "--ae-epochs", "150", "--epochs", "1"]
    )
    assert code == 3 and data["refuted"] is True and data["epsilon_lower_bound"] > 1.0
