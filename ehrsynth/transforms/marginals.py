"""Exact 1-way marginals for fits WITHOUT differential privacy (under DP: :mod:`ehrsynth.dp.one_way`).

Each modelled column of the schema gets the marginal the transformer encodes against and the calibration
matches: ``frequencies`` of categories (binary: the share of 1s), ``knots``/``cdf`` of numbers (see
:mod:`ehrsynth.transforms.numeric`), and ``missing_rate``. Nothing here is private: it reads every value.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ehrsynth.schema import Column, Kind, Schema
from ehrsynth.transforms.numeric import exact_cdf, numeric_values


def is_integer_column(col: Column) -> bool:
    """Columns decoded at integer precision: counts, integer-valued numbers, dates in whole days."""
    return col.kind is Kind.COUNT or col.decimals == 0 or (col.kind is Kind.DATETIME and col.time_unit == "D")


def exact_marginals(schema: Schema, df: pd.DataFrame) -> Schema:
    """``schema`` with each modelled column's exact 1-way marginal attached (columns already carrying one are
    kept as they are)."""
    return Schema([_exact(col, df[col.name]) for col in schema.columns], schema.data_derived)


def _exact(col: Column, s: pd.Series) -> Column:
    if not col.modelled or col.has_marginal:
        return col
    missing = s.isna().to_numpy()
    rate = float(missing.mean())
    nullable = bool(missing.any())
    if col.kind is Kind.BINARY:
        values = s[~missing].to_numpy(dtype="float64")
        share = float((values != 0).mean()) if len(values) else 0.0
        return replace(col, nullable=nullable, frequencies=[share], missing_rate=rate)
    if col.kind is Kind.CATEGORICAL:
        from ehrsynth.transforms.table import category_codes

        cats = list(col.categories or [])
        codes = category_codes(cats, s[~missing])
        counts = np.bincount(codes[codes >= 0], minlength=len(cats)).astype(np.float64)
        total = counts.sum()
        freq = (counts / total if total > 0 else np.full(len(cats), 1.0 / len(cats))).tolist()
        return replace(col, nullable=nullable, frequencies=freq, missing_rate=rate)
    x = numeric_values(col, s)
    x = x[np.isfinite(x)]
    knots, cdf = exact_cdf(x, integer=is_integer_column(col))
    upper = knots[-1] - 1.0 if is_integer_column(col) else knots[-1]
    return replace(
        col, nullable=nullable, knots=knots, cdf=cdf, lower=knots[0], upper=upper, missing_rate=rate
    )
