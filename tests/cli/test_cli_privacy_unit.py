"""CLI: a table with several rows per patient is refused in one line under DP; --privacy-unit row accepts it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from integration.test_privacy_unit_fit import encounters

import ehrsynth
from ehrsynth.cli.main import main


def test_the_cli_refuses_in_one_line_and_accepts_with_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "enc.csv"
    encounters().to_csv(real, index=False)
    out = tmp_path / "synth.csv"
    options = {"--epochs": "1", "--ae-epochs": "1", "--query-steps": "30", "--seed": "1", "--rows": "40"}
    fast = ["--quiet", *(part for option in options.items() for part in option)]
    assert main(["synthesize", str(real), "-o", str(out), "--epsilon", "1", *fast]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'patient_nbr'" in err[0] and "--privacy-unit row" in err[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            [
                *["synthesize", str(real), "-o", str(out), "--epsilon", "1", "--privacy-unit", "row", *fast],
                *["--save-model", str(tmp_path / "model")],
            ]
        )
    assert code == 0
    meta = json.loads((tmp_path / "synth.csv.meta.json").read_text())
    assert meta["privacy_unit"] == "row"
    assert any("one ROW" in note for note in meta["release_notes"])
    assert ehrsynth.read_synthetic(out).attrs["ehrsynth"]["privacy"]["privacy_unit"] == "row"
    capsys.readouterr()
    assert main(["privacy", str(tmp_path / "model")]) == 0
    assert "unit:   one ROW, not one patient" in capsys.readouterr().out
