"""Helpers shared by tests (importable because pyproject sets pytest pythonpath = tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small mixed EHR-like table with correlated codes and missing values (generated in-test)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    sex = rng.choice(["F", "M"], n)
    diabetic = rng.random(n) < 0.2 + 0.004 * (age - 18)
    df = pd.DataFrame(
        {
            "mrn": [f"MRN{i:06d}" for i in range(n)],
            "age": age,
            "sex": sex,
            "race": pd.Series(rng.choice(["A", "B", "C", None], n, p=[0.5, 0.3, 0.15, 0.05]), dtype=object),
            "dx_250": diabetic.astype(int),
            "dx_401": (rng.random(n) < np.where(diabetic, 0.6, 0.2)).astype(int),
            "dx_428": (rng.random(n) < 0.05).astype(int),
            "visits": rng.poisson(2 + 2 * diabetic),
            "hba1c": np.where(
                rng.random(n) < 0.3, np.nan, np.round(5.5 + 2 * diabetic + rng.normal(0, 0.5, n), 1)
            ),
        }
    )
    return df


FAST = {"epochs": 2, "ae_epochs": 2, "bn_burn_in_batches": 2}
