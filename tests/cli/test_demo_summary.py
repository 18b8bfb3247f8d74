"""`ehrsynth demo` summary (issue 14.8): min/max, missing rate and KS/TVD per column make distortions visible."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehrsynth.cli.demo import _markdown, marginal_summary
from ehrsynth.schema import Column, Kind, Schema


def test_summary_shows_clipped_ranges_invented_categories_and_missingness() -> None:
    rng = np.random.default_rng(0)
    real = pd.DataFrame(
        {"age": rng.normal(40, 10, 400), "arm": rng.choice(["a", "b"], 400), "cd4": rng.poisson(300, 400)}
    )
    synth = real.copy()
    synth["age"] = synth["age"].clip(30, 50)  # a clipped range: same mean, other min/max
    synth.loc[:9, "arm"] = "zz"  # an invented category
    synth["cd4"] = synth["cd4"].astype(float).where(rng.random(400) > 0.2)  # invented missingness
    schema = Schema(
        [
            Column("age", Kind.CONTINUOUS, lower=0, upper=100),
            Column("arm", Kind.CATEGORICAL, categories=["a", "b"]),
            Column("cd4", Kind.COUNT, lower=0, upper=1000),
        ]
    )
    rows = {r["column"]: r for r in marginal_summary(real, synth, schema)}
    age = rows["age"]
    assert age["real_min"] < 20 and age["synthetic_min"] == 30 and age["synthetic_max"] == 50
    assert abs(age["real_mean"] - age["synthetic_mean"]) < 1 and age["ks"] > 0.1
    assert rows["arm"]["new_categories"] == ["zz"] and rows["arm"]["tvd"] > 0
    assert rows["cd4"]["real_missing"] == 0 and 0.1 < rows["cd4"]["synthetic_missing"] < 0.3
    text = _markdown(list(rows.values()), {"epsilon_spent": 2.9, "delta": 1e-5}, 400)
    header = text.splitlines()[8]
    for title in ("missing real / synth", "min real / synth", "max real / synth", "KS", "TVD"):
        assert title in header
    age_line = next(line for line in text.splitlines() if line.startswith("| age |"))
    assert " / 30 |" in age_line and " / 50 |" in age_line  # synthetic min and max beside the real ones
    assert "- arm: zz" in text
