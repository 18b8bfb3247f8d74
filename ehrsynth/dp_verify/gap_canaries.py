"""Gap canaries: numeric canary values where the base table has no mass, and the ``released_gap`` score.

A numbers-led table gives the reconstruction attacks little to hold on to (benchmarks/results_dp_audit.md):
a canary differs from the others in a few categories and extremes that an autoencoder reconstructs without
memorising the record. But every fit also releases each numeric column's 1-way distribution (the schema's
``knots``/``cdf``: exact without DP, a DP histogram with DP, :mod:`ehrsynth.dp.one_way`), and the decoder
places values only where that distribution has mass. An integer value that no base row holds (a *gap* inside
the column's range: a lab count of 103 when the rows jump from 96 to 118) has released mass only if a
canary holding it was trained on.

- :func:`gap_items`: every (column, value) gap of the integer-valued numeric columns (counts, integer
  numbers, dates in days) strictly inside the base table's range;
- :func:`assign_gaps`: each of the first ``min(m, gaps)`` canaries gets its own gap value, in a random
  column (one gap per canary, never shared: a shared gap would light up for any of its owners);
- :func:`released_gap_scores`: ``released_gap`` = n × (released mass of the canary's gap value) − ½ for gap
  canaries, so one trained-on row gives about +½ and none −½ (without DP; under DP the mass is noisy);
  canaries without a gap get a score in (−0.2, 0.2) that follows ``fallback`` (another attack's score),
  so the rule guesses on gap canaries first and on the others by the fallback attack.

The capacity is the number of gaps (28 on 3,000 diabetes patients), so it lifts the bound most where
reconstruction is weakest. Reads the released schema only (post-processing).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.schema import Kind, Schema

#: At most this many gap values per column are considered (wide sparse tails are capped).
MAX_GAPS_PER_COLUMN = 2000


def _integer_column(col: Any) -> bool:
    from ehrsynth.transforms.marginals import is_integer_column

    return col.kind in (Kind.COUNT, Kind.CONTINUOUS, Kind.DATETIME) and is_integer_column(col)


def _values(col: Any, s: pd.Series) -> np.ndarray:
    from ehrsynth.transforms.numeric import numeric_values

    x = numeric_values(col, s)
    return x[np.isfinite(x)]


def gap_items(df: pd.DataFrame, schema: Schema) -> list[tuple[str, float]]:
    """(column, value on the numeric scale) of every integer gap strictly inside each column's range."""
    out: list[tuple[str, float]] = []
    for col in schema.columns:
        if not _integer_column(col):
            continue
        x = _values(col, df[col.name])
        if len(x) == 0 or not np.allclose(x, np.round(x)):
            continue
        lo, hi = float(x.min()), float(x.max())
        if hi - lo > 10 * MAX_GAPS_PER_COLUMN:
            continue
        gaps = np.setdiff1d(np.arange(lo + 1, hi), np.unique(x))[:MAX_GAPS_PER_COLUMN]
        out.extend((col.name, float(v)) for v in gaps)
    return out


def assign_gaps(
    out: pd.DataFrame, df: pd.DataFrame, schema: Schema, rng: np.random.Generator
) -> pd.DataFrame:
    """``out`` (canary rows) with one unique gap value put into each of its first rows (as many as gaps)."""
    items = gap_items(df, schema)
    if not items:
        return out
    out = out.copy()
    picks = rng.permutation(len(items))[: len(out)]
    for i, j in enumerate(picks):
        name, value = items[int(j)]
        col = schema[name]
        out.iloc[i, out.columns.get_loc(name)] = _typed_value(col, value, df[name])
    return out


def _typed_value(col: Any, value: float, like: pd.Series) -> Any:
    from ehrsynth.transforms.numeric import EPOCH

    if col.kind is Kind.DATETIME:
        ts = EPOCH + pd.Timedelta(days=value)
        return ts.strftime("%Y-%m-%d") if like.dtype == object else ts
    return int(value) if pd.api.types.is_integer_dtype(like.dtype) or like.dtype == object else float(value)


def canary_gaps(canaries: pd.DataFrame, base: pd.DataFrame, schema: Schema) -> list[tuple[str, float] | None]:
    """Each canary's gap (column, value) read back from the rows: an integer value no base row holds."""
    gaps: list[tuple[str, float] | None] = [None] * len(canaries)
    for col in schema.columns:
        if not _integer_column(col) or col.name not in canaries.columns:
            continue
        from ehrsynth.transforms.numeric import numeric_values

        seen = set(_values(col, base[col.name]).tolist())
        mine = numeric_values(col, canaries[col.name])
        for i, v in enumerate(mine):
            if gaps[i] is None and np.isfinite(v) and v not in seen:
                gaps[i] = (col.name, float(v))
    return gaps


def released_mass(col: Any, value: float) -> float:
    """Mass of the released distribution of ``col`` on [value, value + 1) (0 when none is released)."""
    if not col.knots or not col.cdf:
        return 0.0
    knots = np.asarray(col.knots, dtype=np.float64)
    cdf = np.asarray(col.cdf, dtype=np.float64)
    return float(np.interp(value + 1.0, knots, cdf) - np.interp(value, knots, cdf))


def released_gap_scores(
    released: Schema,
    canaries: pd.DataFrame,
    base: pd.DataFrame,
    declared: Schema,
    fallback: np.ndarray,
    n_rows: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The ``released_gap`` score of each canary (see the module docstring)."""
    from ehrsynth.dp_verify.lower_bound import within_run_ranks

    gaps = canary_gaps(canaries, base, declared)
    ranks = within_run_ranks(np.asarray(fallback, dtype=np.float64), np.zeros(len(fallback)), rng)
    score = 0.4 * ((ranks + 0.5) / max(len(ranks), 1) - 0.5)
    names = {c.name for c in released.columns}
    for i, gap in enumerate(gaps):
        if gap is None:
            continue
        name, value = gap
        mass = released_mass(released[name], value) if name in names else 0.0
        score[i] = n_rows * mass - 0.5
    return score
