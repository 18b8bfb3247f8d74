"""Column metadata shared by the benchmark baselines (numpy + pandas only: imported in every peer venv).

The benchmark declares, per column, a *public* schema: ``binary`` (0/1), ``categorical`` (the list of values)
or ``numeric`` (lower/upper bounds, integer or not). The same schema is handed to every method, so no method
spends privacy budget on the domain (ehrsynth's MedGAN is run with its own DP domain discovery on top, which is
a handicap to it, not to the baselines). Numeric columns are discretised into equal-width bins over the public
bounds for the methods that need discrete data (DP marginals, MST, AIM); decoding draws uniformly in the bin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MISSING = "__missing__"
N_BINS = 20


def infer_schema(df: pd.DataFrame, max_categories: int = 10) -> dict[str, dict[str, Any]]:
    """The declared schema of ``df`` (the benchmark treats it as public metadata, see the module docstring)."""
    schema: dict[str, dict[str, Any]] = {}
    for name in df.columns:
        col = df[name]
        values = col.dropna()
        has_missing = bool(col.isna().any())
        if pd.api.types.is_numeric_dtype(col) and set(pd.unique(values)) <= {0, 1}:
            schema[name] = {"kind": "binary", "missing": has_missing}
        elif not pd.api.types.is_numeric_dtype(col) or values.nunique() <= max_categories:
            cats = sorted(pd.unique(values).tolist(), key=str)
            schema[name] = {"kind": "categorical", "categories": cats, "missing": has_missing}
        else:
            as_float = values.astype(float)
            schema[name] = {
                "kind": "numeric",
                "lower": float(as_float.min()),
                "upper": float(as_float.max()),
                "integer": bool(np.all(np.mod(as_float, 1) == 0)),
                "missing": has_missing,
            }
    return schema


def domain(spec: dict[str, Any]) -> list[Any]:
    """The discrete values a column takes after :func:`discretize` (bins are 0..N_BINS-1)."""
    if spec["kind"] == "binary":
        values: list[Any] = [0, 1]
    elif spec["kind"] == "categorical":
        values = list(spec["categories"])
    else:
        values = list(range(N_BINS))
    return values + ([MISSING] if spec.get("missing") else [])


def discretize(df: pd.DataFrame, schema: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Every column as strings of its discrete value (numeric → bin index); missing → ``MISSING``."""
    out = {}
    for name, spec in schema.items():
        col = df[name]
        if spec["kind"] == "numeric":
            lo, hi = spec["lower"], spec["upper"]
            width = (hi - lo) / N_BINS or 1.0
            codes = np.clip(np.floor((col.astype(float) - lo) / width), 0, N_BINS - 1)
            col = pd.Series(np.where(col.isna(), np.nan, codes), index=df.index)
            col = col.map(lambda v: MISSING if pd.isna(v) else str(int(v)))
        elif spec["kind"] == "binary":
            col = col.map(lambda v: MISSING if pd.isna(v) else str(int(v)))
        else:
            col = col.map(lambda v: MISSING if pd.isna(v) else str(v))
        out[name] = col.astype(str)
    return pd.DataFrame(out, index=df.index)


def undiscretize(
    disc: pd.DataFrame, schema: dict[str, dict[str, Any]], rng: np.random.Generator
) -> pd.DataFrame:
    """Inverse of :func:`discretize`: bins → uniform value in the bin (rounded for integer columns)."""
    out = {}
    for name, spec in schema.items():
        col = disc[name].astype(str)
        missing = (col == MISSING).to_numpy()
        if spec["kind"] == "numeric":
            lo, hi = spec["lower"], spec["upper"]
            width = (hi - lo) / N_BINS
            bins = pd.to_numeric(col.where(~missing, "0"), errors="coerce").fillna(0).to_numpy(float)
            vals = lo + (bins + rng.random(len(col))) * width
            vals = np.clip(vals, lo, hi)
            if spec["integer"]:
                vals = np.round(vals)
            vals[missing] = np.nan
            out[name] = vals
        elif spec["kind"] == "binary":
            vals = pd.to_numeric(col.where(~missing, "nan"), errors="coerce").to_numpy(float)
            out[name] = vals if missing.any() else vals.astype(np.int64)
        else:
            lookup = {str(c): c for c in spec["categories"]}
            out[name] = [None if m else lookup.get(v, v) for v, m in zip(col, missing, strict=True)]
    return pd.DataFrame(out)


def restore_types(synth: pd.DataFrame, schema: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Coerce a peer's output back to the declared kinds (0/1 ints, category values, clipped numbers)."""
    out = {}
    for name, spec in schema.items():
        col = synth[name]
        if spec["kind"] == "binary":
            num = pd.to_numeric(col, errors="coerce")
            out[name] = (num.fillna(0) >= 0.5).astype(np.int64)
        elif spec["kind"] == "categorical":
            lookup = {str(c): c for c in spec["categories"]}
            out[name] = col.map(lambda v, lk=lookup: None if pd.isna(v) else lk.get(str(v), v))
        else:
            num = pd.to_numeric(col, errors="coerce").clip(spec["lower"], spec["upper"])
            out[name] = num.round() if spec["integer"] else num
    return pd.DataFrame(out)
