"""`--engine hybrid` from the command line: listed in the help, trains, and privacy.json lists its releases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.cli.main import main


def test_help_lists_the_three_engines(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["synthesize", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "{dpsgd,measure,hybrid}" in out and "hybrid (a DP release of all pairs" in out


def test_engine_hybrid_from_the_command_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 1000
    df = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "dx_250": rng.integers(0, 2, n)})
    df["dx_401"] = (rng.random(n) < np.where(df["dx_250"] == 1, 0.7, 0.1)).astype(int)
    real = tmp_path / "real.csv"
    df.to_csv(real, index=False)
    model_dir = tmp_path / "model"
    argv = ["synthesize", str(real), "-o", str(tmp_path / "s.csv"), "--engine", "hybrid", "--epsilon", "3"]
    fast = ["--epochs", "2", "--ae-epochs", "1", "--save-model", str(model_dir), "--seed", "0", "--quiet"]
    assert main([*argv, *fast]) == 0
    names = [m["name"] for m in json.loads((model_dir / "privacy.json").read_text())["mechanisms"]]
    assert {"marginals:1-way", "autoencoder", "discriminator"} <= set(names)
    assert any(n.startswith("measure:pairs:") for n in names)
    assert len(pd.read_csv(tmp_path / "s.csv")) == n
