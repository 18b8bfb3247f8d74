"""The fidelity summary: each synthetic column against its released marginal, flags and one warning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrsynth.errors import DataFidelityWarning
from ehrsynth.fidelity import fidelity_summary
from ehrsynth.schema import Schema
from ehrsynth.transforms.marginals import exact_marginals


def _real(n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 90, n),
            "race": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
            "dx": rng.integers(0, 2, n),
            "lab": rng.lognormal(1.0, 1.0, n).round(2),
        }
    )


def test_a_faithful_table_passes_and_a_distorted_one_is_flagged() -> None:
    real = _real()
    schema = exact_marginals(Schema.infer(real), real)
    good = fidelity_summary(schema, real.sample(frac=1.0, random_state=1))
    assert good.flagged == [] and {c.column for c in good.columns} == set(real.columns)

    bad = real.copy()
    bad["lab"] = bad["lab"].clip(upper=1.0)  # a clipped lab value
    bad["race"] = "a"  # mode collapse
    bad.loc[:199, "age"] = np.nan  # invented missingness
    summary = fidelity_summary(schema, bad)
    flagged = {c.column: c.problems for c in summary.flagged}
    assert set(flagged) == {"lab", "race", "age"}
    assert any("KS" in p for p in flagged["lab"]) and any("TVD" in p for p in flagged["race"])
    assert any("missing" in p for p in flagged["age"])
    with pytest.warns(DataFidelityWarning, match="3 synthetic column"):
        summary.warn()
    text = summary.to_text()
    assert "lab" in text and "KS" in text
    assert summary.to_dict()["flagged"] == ["age", "race", "lab"]
    assert "| lab |" in summary.to_markdown()
