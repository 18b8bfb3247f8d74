"""`ehrsynth audit-dp`: options, exit codes (0 / 2 / 3), JSON and HTML outputs, and the planted-bug check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import DP_AUDIT_REPORT_KEYS
from support_audit_dp import table_csv_fixture, with_audit_dp  # noqa: F401  (fixtures)

import ehrsynth.cli.main as cli_main

REQUIRED = DP_AUDIT_REPORT_KEYS


def test_help_lists_the_command_and_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["audit-dp", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--epsilon", "--no-dp", "--canaries", "--runs", "--json", "--html", "--seed"):
        assert option in out
    with pytest.raises(SystemExit):
        cli_main.main(["--help"])
    assert "audit-dp" in capsys.readouterr().out


def test_epsilon_and_no_dp_exclude_each_other(table_csv: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["audit-dp", str(table_csv), "--epsilon", "1", "--no-dp"])
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--canaries", "5"], "canaries"),
        (["--epsilon", "-1"], "epsilon"),
        (["--delta", "0.5"], "delta"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    table_csv: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main.main(["audit-dp", str(table_csv), "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ehrsynth: error:") and message in err[-1]


def test_missing_input_and_output_folder_exit_2(table_csv: Path, tmp_path: Path) -> None:
    assert cli_main.main(["audit-dp", str(tmp_path / "nope.csv"), "--quiet"]) == 2
    assert cli_main.main(["audit-dp", str(table_csv), "--json", str(tmp_path / "no" / "o.json")]) == 2


def planted_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """DP-SGD noise multiplier forced to 0 in both phases; the accountant still charges calibrated noise."""
    import ehrsynth.training.adversarial as adversarial
    import ehrsynth.training.autoencoder as autoencoder
    from ehrsynth.dp import opacus_wiring

    real = opacus_wiring.make_private

    def no_noise(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "noise_multiplier": 0.0})

    monkeypatch.setattr(autoencoder, "make_private", no_noise)
    monkeypatch.setattr(adversarial, "make_private", no_noise)


SMALL = [
    "--engine",
    "dpsgd",
    "--canaries",
    "200",
    "--ae-epochs",
    "150",
    "--epochs",
    "1",
    "--seed",
    "0",
    "--quiet",
    "--device",
    "cpu",
]


def test_planted_bug_is_caught_exit_3(
    table_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    planted_bug(monkeypatch)
    out_json, out_html = tmp_path / "audit.json", tmp_path / "audit.html"
    args = ["audit-dp", str(table_csv), "--epsilon", "1", "--json", str(out_json), "--html", str(out_html)]
    assert cli_main.main([*args, *SMALL]) == 3
    data = json.loads(out_json.read_text())
    assert set(data) >= REQUIRED
    assert data["epsilon_claimed"] == 1.0 and data["refuted"] is True
    assert data["epsilon_lower_bound"] > 1.0
    assert data["runs_detail"][0]["epsilon_spent"] == pytest.approx(1.0, rel=0.01)  # the accountant is fooled
    assert "CLAIM REFUTED" in out_html.read_text()
    assert "REFUTED" in capsys.readouterr().out


def test_no_dp_exits_0_and_writes_the_reports(
    table_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_html = tmp_path / "audit.json", tmp_path / "audit.html"
    args = ["audit-dp", str(table_csv), "--no-dp", "--json", str(out_json), "--html", str(out_html)]
    assert cli_main.main([*args, *SMALL]) == 0
    data = json.loads(out_json.read_text())
    assert set(data) >= REQUIRED
    assert data["epsilon_claimed"] is None and data["confidence"] == 0.95
    assert data["canaries"] == 200 and data["runs"] == 1
    assert data["epsilon_lower_bound"] > 0.5  # memorised without DP: the audit has power
    assert data["input"]["source"] == "patients.csv"
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "NO DP CLAIM" in page
    captured = capsys.readouterr()
    assert "epsilon lower bound" in captured.out and "WITHOUT differential privacy" in captured.err


def test_command_module_imports_only_the_standard_library() -> None:
    code = (
        "import sys, ehrsynth.cli.audit_dp; "
        "heavy = [m for m in ('torch', 'pandas', 'numpy', 'scipy') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_threads_default_to_one_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from ehrsynth.cli.audit_dp import _set_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    _set_threads(None)
    assert torch.get_num_threads() == 1
    _set_threads(2)
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _set_threads(None)  # the environment decides
    assert torch.get_num_threads() == 2
