"""CLI: the release notes (what the DP release lost) reach the steward's terminal and the analyst's sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from unit.test_trimmed_tails import tailed_table

import ehrsynth
from ehrsynth.cli.main import main
from ehrsynth.errors import DataFidelityWarning


def test_the_cli_writes_the_release_notes_into_the_sidecar(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    tailed_table().to_csv(real, index=False)
    out = tmp_path / "synth.csv"
    fast = ["--epochs", "1", "--ae-epochs", "1", "--query-steps", "30", "--quiet", "--seed", "1"]
    with pytest.warns(DataFidelityWarning, match="sparse parts of the range"):  # the steward sees it
        assert main(["synthesize", str(real), "-o", str(out), "--rows", "50", "--epsilon", "0.3", *fast]) == 0
    meta = json.loads((tmp_path / "synth.csv.meta.json").read_text())
    notes = meta["release_notes"]
    assert any("'stay'" in note for note in notes)
    assert len(ehrsynth.read_synthetic(out)) == 50
