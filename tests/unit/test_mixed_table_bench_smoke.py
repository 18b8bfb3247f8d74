"""benchmarks/mixed_table_bench.py: its generated table and its per-column reading (no fit)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import mixed_table_bench as bench


def test_generated_table_and_description() -> None:
    real = bench.generate(300, 0)
    assert real["hba1c"].isna().mean() > 0.2 and (real["discharge_date"] > real["admit_date"]).all()
    swapped = real.assign(admit_date=real["discharge_date"], discharge_date=real["admit_date"])
    out = bench.describe(real, swapped.assign(creatinine=swapped["creatinine"] + 0.001))
    assert out["discharge_before_admission"] == [0.0, 1.0]
    assert out["columns"]["hba1c"]["decimals"] == [1, 1] and out["columns"]["creatinine"]["decimals"] == [
        2,
        3,
    ]
    md = bench.markdown(
        {
            "environment": {"date": "d"},
            "rows": 300,
            "epsilon": 3.0,
            "warnings": [],
            "date_gaps": "none",
            **out,
        },
        "cmd",
    )
    assert out["stay_over_30_days"] == [0.0, 0.0] and out["stay_tvd"] > 0.9  # every swapped stay < 0
    assert "| hba1c |" in md and isinstance(
        pd.Timestamp(out["columns"]["admit_date"]["range"][0][0]), pd.Timestamp
    )
