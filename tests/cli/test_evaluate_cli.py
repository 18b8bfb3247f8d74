"""`ehrsynth evaluate`: files written, summary printed, bad input reported in one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ehrsynth.cli.main as cli


@pytest.fixture(autouse=True)
def with_evaluate(monkeypatch: pytest.MonkeyPatch) -> None:
    if "evaluate" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "evaluate"))


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    df = pd.DataFrame({"patient_id": np.arange(n) + 1000 * seed})
    for j in range(6):
        df[f"dx_{j}"] = (z[:, j % 2] + rng.normal(0, 0.7, n) > 0.3).astype(int)
    df["sex"] = np.where(z[:, 0] > 0, "F", "M")
    df["age"] = np.round(60 + 10 * z[:, 1], 1)
    return df


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, seed in (("train", 1), ("test", 2), ("synthetic", 3)):
        path = tmp_path / f"{name}.csv"
        table(400, seed).to_csv(path, index=False)
        out[name] = path
    return out


def args(files: dict[str, Path], *extra: str) -> list[str]:
    return [
        "evaluate",
        "--train",
        str(files["train"]),
        "--test",
        str(files["test"]),
        "--synthetic",
        str(files["synthetic"]),
        *extra,
    ]


def test_writes_json_and_html(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_html = tmp_path / "eval.json", tmp_path / "eval.html"
    rc = cli.main(
        args(files, "--target", "sex", "--top-k", "4", "--json", str(out_json), "--html", str(out_html))
    )
    assert rc == 0
    report = json.loads(out_json.read_text())
    assert report["settings"]["top_k"] == 4 and report["dimension_wise_prediction"]["n_evaluated"] == 4
    assert report["tstr"]["target"] == "sex" and report["tstr"]["auroc_real"] > 0.8
    assert report["baselines"]["independent_marginals"]["pairwise"]["correlation_mae"] > 0
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.index("<h2>Answer</h2>") < page.index(
        "<h2>All metrics"
    )
    out = capsys.readouterr().out
    assert "dimension-wise prediction: AUROC synthetic" in out and "TSTR sex" in out and "wrote" in out
    first = out.splitlines()[0]  # the answer leads: an area with its verdict
    assert first.startswith("ehrsynth evaluate: Single columns (marginals):")
    assert "Pairs of columns (dependence):" in out and "Train on synthetic, test on real (TSTR):" in out
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file behind


def test_json_to_stdout_and_options(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "schema.json"
    cols = [{"name": f"dx_{j}", "kind": "binary"} for j in range(6)] + [{"name": "age", "kind": "continuous"}]
    schema.write_text(json.dumps({"columns": cols}))
    rc = cli.main(
        args(files, "--json", "-", "--schema", str(schema), "--no-baselines", "--seed", "3", "--top-k", "2")
    )
    assert rc == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["baselines"] is None and report["settings"]["random_state"] == 3
    assert set(report["columns"]["excluded"]) == {"patient_id", "sex"}
    assert "ehrsynth evaluate:" in captured.err


@pytest.mark.parametrize(
    ("mutate", "extra", "message"),
    [
        (None, ("--target", "nope"), "target column 'nope' is not in the training table"),
        ("drop_column", (), "lacks 1 column(s) of the training table: 'dx_2'"),
        ("empty", (), "is empty"),
        ("one_class_target", ("--target", "sex"), "has only 'F' in the training table"),
    ],
)
def test_bad_input_exits_2(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    mutate: str | None,
    extra: tuple[str, ...],
    message: str,
) -> None:
    if mutate == "drop_column":
        pd.read_csv(files["synthetic"]).drop(columns="dx_2").to_csv(files["synthetic"], index=False)
    elif mutate == "empty":
        files["test"].write_text("")
    elif mutate == "one_class_target":
        pd.read_csv(files["train"]).assign(sex="F").to_csv(files["train"], index=False)
    assert cli.main(args(files, *extra)) == 2
    err = capsys.readouterr().err
    problems = [line for line in err.splitlines() if not line.endswith("…")]  # stage lines end in …
    assert message in err and len(problems) == 1 and "Traceback" not in err


def test_unsupported_file_and_missing_output_dir(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "train.xlsx"
    odd.write_bytes(b"PK")
    files_odd = {**files, "train": odd}
    assert cli.main(args(files_odd)) == 2
    assert "unsupported file type" in capsys.readouterr().err
    assert cli.main(args(files, "--json", str(tmp_path / "no" / "such" / "dir.json"))) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(args(files, "--top-k", "0"))
    assert info.value.code == 2


def test_module_imports_only_stdlib() -> None:
    code = (
        "import sys, ehrsynth.cli.evaluate as m, argparse; "
        "p = argparse.ArgumentParser(); m.add_parser(p.add_subparsers()); "
        "print(sorted(k for k in ('pandas', 'numpy', 'sklearn', 'scipy', 'torch') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
