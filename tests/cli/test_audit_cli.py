"""`ehrsynth audit`: reports written atomically, exit codes 0 / 3 / 2, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ehrsynth.cli.main as cli
from ehrsynth.cli.audit import EXIT_FAIL

N = 300


@pytest.fixture(autouse=True)
def _with_audit_command(monkeypatch: pytest.MonkeyPatch) -> None:
    if "audit" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "audit"))


def _population(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prevalence = 0.35 * np.arange(1, 41) ** -0.6
    codes = (rng.random((n, 40)) < prevalence).astype(int)
    df = pd.DataFrame(codes, columns=[f"dx_{j:02d}" for j in range(40)])
    df.insert(0, "age", rng.integers(18, 95, n))
    df.insert(1, "sex", rng.choice(["F", "M"], n))
    return df


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("audit")
    train, holdout, other = _population(N, 1), _population(N, 2), _population(N, 3)
    paths = {"train": root / "train.csv", "holdout": root / "holdout.csv.gz", "independent": root / "ind.csv"}
    train.to_csv(paths["train"], index=False)
    holdout.to_csv(paths["holdout"], index=False)
    other.to_csv(paths["independent"], index=False)
    paths["copy"] = root / "copy.csv"
    train.to_csv(paths["copy"], index=False)
    return paths


def _args(files: dict[str, Path], synthetic: str, *extra: str) -> list[str]:
    return [
        "audit",
        "--train",
        str(files["train"]),
        "--holdout",
        str(files["holdout"]),
        "--synthetic",
        str(files[synthetic]),
        "--bootstrap",
        "200",
        *extra,
    ]


def test_copy_of_train_exits_3_and_writes_reports(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    rc = cli.main(_args(files, "copy", "--fail-on", "high", "--json", str(out_json), "--html", str(out_html)))
    assert rc == 3
    report = json.loads(out_json.read_text())
    assert report["verdict"] == "high" and report["attacks"]["membership"]["auc"] >= 0.95
    assert report["inputs"]["train"]["source"] == "train.csv" and report["inputs"]["holdout"]["rows"] == N
    assert out_html.read_text().startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files
    captured = capsys.readouterr()
    assert "verdict: high" in captured.out and "--fail-on high" in captured.err


def test_independent_sample_exits_0(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_args(files, "independent")) == 0  # default --fail-on high
    assert "verdict: low" in capsys.readouterr().out


def test_fail_on_levels(files: dict[str, Path]) -> None:
    assert cli.main(_args(files, "independent", "--fail-on", "low")) == 3  # every verdict is at least low
    assert cli.main(_args(files, "copy", "--fail-on", "never")) == 0


def test_bad_input_is_one_line_exit_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = pd.read_csv(files["independent"]).drop(columns=["dx_05"])
    bad = tmp_path / "bad.csv"
    other.to_csv(bad, index=False)
    args = _args(files, "independent")
    args[args.index(str(files["independent"]))] = str(bad)
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing from synthetic: 'dx_05'" in err and "Traceback" not in err

    assert cli.main(_args(files, "independent", "--sensitive", "nope")) == 2
    assert "unknown sensitive attributes ['nope']" in capsys.readouterr().err

    odd = tmp_path / "train.json"
    odd.write_text("{}")
    args = _args(files, "independent")
    args[args.index(str(files["train"]))] = str(odd)
    assert cli.main(args) == 2
    assert "unsupported file type" in capsys.readouterr().err

    assert cli.main(_args(files, "independent", "--json", str(tmp_path / "no" / "dir" / "r.json"))) == 2
    assert "does not exist" in capsys.readouterr().err


def test_parser_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["audit", "--train", "a.csv"])
    assert exc.value.code == 2
    parser = cli.build_parser()
    args = parser.parse_args(["audit", "--train", "a", "--holdout", "b", "--synthetic", "c"])
    assert args.fail_on == "high" and args.seed == 0 and callable(args.handler)


def test_copied_identifier_columns_fail_the_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 item 10: names, licence and passport numbers copied column by column are HIGH (exit 3)."""
    rng = np.random.default_rng(0)

    def people(n: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "first_name": rng.choice([f"F{i}" for i in range(300)], n),
                "licence": [f"D{v:08d}" for v in rng.integers(0, 10**8, n)],
                "passport": [f"P{v:09d}" for v in rng.integers(0, 10**9, n)],
                "age": rng.integers(18, 95, n),
                "sex": rng.choice(["F", "M"], n),
            }
        )

    train, holdout, synthetic, fresh = people(56), people(56), people(56), people(56)
    for name in ("first_name", "licence", "passport"):
        synthetic[name] = train[name].to_numpy()[::-1]
    paths = {}
    for role, df in (("train", train), ("holdout", holdout), ("synthetic", synthetic), ("fresh", fresh)):
        paths[role] = tmp_path / f"{role}.csv"
        df.to_csv(paths[role], index=False)
    argv = ["audit", "--train", str(paths["train"]), "--holdout", str(paths["holdout"]), "--bootstrap", "200"]
    assert cli.main([*argv, "--synthetic", str(paths["synthetic"]), "--fail-on", "high"]) == EXIT_FAIL
    out = capsys.readouterr().out
    assert "column_disclosure: high" in out
    assert cli.main([*argv, "--synthetic", str(paths["fresh"]), "--fail-on", "high"]) == 0
