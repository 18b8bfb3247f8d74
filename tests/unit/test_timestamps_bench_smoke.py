"""benchmarks/timestamps_bench.py: its table and its reading of a synthetic table (no fit)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import timestamps_bench as bench


def test_the_real_table_scores_as_a_perfect_copy_and_midnight_as_before() -> None:
    real = bench.table(400, 0)
    m = bench.measure(real, real)
    assert m["hour_tvd_intime"] == 0.0 and m["out_before_in"] == 0.0 and m["careunit_without_key"] == 0.0
    assert m["midnight_chartdate"] == 1.0 and m["midnight_intime"] < 0.01
    assert m["hour_tvd_midnight_only"] > 0.9  # an afternoon peak against all at 00:00
    assert m["key_missing"] == pytest.approx(m["key_missing_real"])
    shifted = real.assign(outtime=pd.to_datetime(real["intime"]) - pd.Timedelta(hours=1))
    assert bench.measure(real, shifted)["out_before_in"] == 1.0
