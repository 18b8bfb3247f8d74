"""benchmarks/edge_spill_bench.py: its spill / overshoot / KS reading of a released column (no release)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import edge_spill_bench as bench

from ehrsynth.schema import Column, Kind


def test_spill_overshoot_and_ks_of_a_released_cdf() -> None:
    x = np.arange(10, 20, dtype=float)  # ten integers, 10..19
    exact = Column("a", Kind.COUNT, lower=10, upper=19, knots=[10.0, 20.0], cdf=[0.0, 1.0])
    assert bench.measure(exact, x, integer=True) == pytest.approx((0.0, 0.0, 0.0), abs=0.01)
    spilled = Column("a", Kind.COUNT, lower=10, upper=24, knots=[10.0, 20.0, 25.0], cdf=[0.0, 0.9, 1.0])
    spill, over, ks = bench.measure(spilled, x, integer=True)
    assert spill == pytest.approx(0.1) and over == 5.0 and ks == pytest.approx(0.1, abs=0.01)
    cats = Column("b", Kind.CATEGORICAL, categories=[1, 2, 3], frequencies=[0.5, 0.4, 0.1])
    spill, over, tvd = bench.measure(cats, np.array([1.0, 2.0] * 5), integer=True)
    assert (spill, over, tvd) == pytest.approx((0.1, 1.0, 0.1))
    assert list(bench.table(50, 0).columns) == list(bench.COLUMNS)
