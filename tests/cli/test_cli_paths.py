"""Output paths are checked before any work and never overwrite an input (issue 13 items 5 and 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.cli.main import main

FAST = ["--epochs", "1", "--ae-epochs", "1", "--query-steps", "30", "--quiet", "--seed", "0", "--no-dp"]


def _table(path: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(0)
    pd.DataFrame({"age": rng.integers(20, 90, n), "sex": rng.choice(["F", "M"], n)}).to_csv(path, index=False)
    return path


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], words: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and "internal error" not in err


def test_synthesize_onto_its_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = _table(tmp_path / "in.csv")
    before = real.read_bytes()
    _refused(["synthesize", str(real), "-o", str(real), *FAST], capsys, "overwrite the input")
    assert real.read_bytes() == before
    other = tmp_path / "sub" / ".." / "in.csv"  # the same file under another spelling
    (tmp_path / "sub").mkdir()
    _refused(["synthesize", str(real), "-o", str(other), *FAST], capsys, "overwrite the input")
    assert real.read_bytes() == before


def test_hard_link_to_the_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = _table(tmp_path / "in.csv")
    link = tmp_path / "link.csv"
    link.hardlink_to(real)
    _refused(["synthesize", str(real), "-o", str(link), *FAST], capsys, "overwrite the input")


def test_audit_report_onto_an_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train = _table(tmp_path / "train.csv")
    before = train.read_bytes()
    argv = ["audit", "--train", str(train), "--holdout", str(train), "--synthetic", str(train)]
    _refused([*argv, "--json", str(train)], capsys, "overwrite the input")
    _refused([*argv, "--html", str(train)], capsys, "overwrite the input")
    assert train.read_bytes() == before


def test_audit_dp_report_onto_its_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _table(tmp_path / "in.csv")
    _refused(["audit-dp", str(real), "--no-dp", "--json", str(real)], capsys, "overwrite the input")


def test_schema_onto_its_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = _table(tmp_path / "in.csv")
    _refused(["schema", str(real), "-o", str(real)], capsys, "overwrite the input")


def test_fit_into_an_unrelated_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _table(tmp_path / "in.csv")
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text('{"mine": true}')
    _refused(["fit", str(real), "-o", str(project), *FAST], capsys, "not an ehrsynth model directory")
    assert (project / "config.json").read_text() == '{"mine": true}'
    _refused(["fit", str(real), "-o", str(real), *FAST], capsys, "is a file")


def test_save_model_into_a_missing_parent_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _table(tmp_path / "in.csv")
    out = tmp_path / "s.csv"
    argv = ["synthesize", str(real), "-o", str(out), "--save-model", str(tmp_path / "no" / "model"), *FAST]
    _refused(argv, capsys, "does not exist")
    assert not out.exists() and not (tmp_path / "s.csv.meta.json").exists()


def test_output_that_is_a_directory_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _table(tmp_path / "in.csv")
    target = tmp_path / "out.csv"
    target.mkdir()
    _refused(["synthesize", str(real), "-o", str(target), *FAST], capsys, "is a directory")
    _refused(
        [
            "audit",
            "--train",
            str(real),
            "--holdout",
            str(real),
            "--synthetic",
            str(real),
            "--json",
            str(target),
        ],
        capsys,
        "is a directory",
    )


def test_same_output_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = _table(tmp_path / "in.csv")
    out = str(tmp_path / "r.json")
    argv = ["audit", "--train", str(real), "--holdout", str(real), "--synthetic", str(real)]
    _refused([*argv, "--json", out, "--html", out], capsys, "given twice")
