"""A key missing in part of the rows (MIMIC TRANSFERS.icustay_id outside an ICU) keeps its missing values and
their tie to the rest of the row, with and without DP, and through save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.transforms.key_flags import flag_name

FAST = {"device": "cpu", "query_steps": 150}


def transfers(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    icu = rng.random(n) < 0.35
    return pd.DataFrame(
        {
            "icustay_id": np.where(icu, 200_000 + np.arange(n), np.nan),  # float64: a key with missing values
            "careunit": np.where(icu, rng.choice(["MICU", "SICU"], n), None),
            "age": rng.integers(18, 90, n),
        }
    )


@pytest.mark.parametrize("epsilon", [None, 3.0])
def test_missing_keys_keep_their_rate_and_their_tie_to_the_row(epsilon: float | None, tmp_path: Path) -> None:
    df = transfers()
    model = MedGAN(epsilon=epsilon, random_state=0, **FAST).fit(df)
    assert flag_name("icustay_id") in model.schema_.names
    out = model.sample(3000, random_state=1)
    assert list(out.columns) == list(df.columns)  # the flag never reaches the output
    missing = out["icustay_id"].isna()
    assert abs(missing.mean() - 0.65) < 0.05  # before: a key on every row
    assert out["careunit"][missing].notna().mean() < 0.15 and out["careunit"][~missing].notna().mean() > 0.85
    assert out["icustay_id"].dropna().is_unique
    model.save(str(tmp_path / "m"))
    loaded = ehrsynth.load(str(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.sample(50, random_state=2), model.sample(50, random_state=2))
