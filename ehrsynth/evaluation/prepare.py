"""Coerce a table to the evaluated columns' kinds: arrays the metrics can use directly.

- binary → float32 0/1 (``True``/``False`` and ``"0"``/``"1"``/``"true"``/``"false"`` strings accepted), NaN
  where missing; any other value is an error (threshold probabilities before evaluating);
- count / continuous → float64, NaN where missing; text that is not a number is an error;
- datetime → float64 days since 1970-01-01 (numbers are taken as days already);
- categorical → strings; missing values become the category ``"<missing>"``; integral floats are written
  as integers so ``1`` and ``1.0`` are the same category in every table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehrsynth.errors import InvalidDataError
from ehrsynth.evaluation.columns import ColumnPlan

MISSING = "<missing>"
_EPOCH = pd.Timestamp("1970-01-01")
_BOOL_TEXT = {"0": 0.0, "1": 1.0, "true": 1.0, "false": 0.0, "0.0": 0.0, "1.0": 1.0}


@dataclass(frozen=True)
class Prepared:
    """One table as arrays: ``binary`` (n × len(plan.binary), float32), ``numeric`` (n × len(plan.numeric),
    float64) and one string array per categorical column (``categorical``)."""

    n_rows: int
    binary: np.ndarray
    numeric: np.ndarray
    categorical: dict[str, np.ndarray]


def _examples(values: pd.Series) -> str:
    uniq = pd.unique(values.astype(str))[:3]
    return ", ".join(repr(v) for v in uniq)


def _binary_block(df: pd.DataFrame, names: list[str], what: str) -> np.ndarray:
    out = np.empty((len(df), len(names)), dtype=np.float32)
    numeric = [c for c in names if pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])]
    if numeric:
        idx = [names.index(c) for c in numeric]
        out[:, idx] = df[numeric].to_numpy(dtype=np.float32, na_value=np.nan)
    for name in names:
        s = df[name]
        if name in numeric:
            continue
        mapped = s.map(lambda v: _BOOL_TEXT.get(str(v).strip().lower(), np.nan) if pd.notna(v) else np.nan)
        bad = s[s.notna() & mapped.isna()]
        if len(bad):
            raise InvalidDataError(
                f"binary column {name!r} of the {what} table holds {_examples(bad)}; allowed: 0/1 or "
                "true/false (and missing)",
                column=name,
            )
        out[:, names.index(name)] = mapped.to_numpy(dtype=np.float32)
    bad_cols = ~(np.isnan(out) | (out == 0) | (out == 1)).all(axis=0)
    if bad_cols.any():
        name = names[int(np.flatnonzero(bad_cols)[0])]
        col = out[:, names.index(name)]
        found = np.unique(col[~(np.isnan(col) | (col == 0) | (col == 1))])[:3]
        raise InvalidDataError(
            f"binary column {name!r} of the {what} table holds {found.tolist()}; allowed: 0 and 1 "
            "(threshold or sample probabilities before evaluating)",
            column=name,
        )
    return out


def _numeric_column(s: pd.Series, name: str, kind: str, what: str) -> np.ndarray:
    if kind == "datetime" and not pd.api.types.is_numeric_dtype(s):
        if pd.api.types.is_datetime64_any_dtype(s):
            stamps = s
        else:
            stamps = pd.to_datetime(s, errors="coerce", format="mixed")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        bad = s[s.notna() & stamps.isna()]
        if len(bad):
            raise InvalidDataError(
                f"datetime column {name!r} of the {what} table holds values that are not dates: "
                f"{_examples(bad)}; write dates as YYYY-MM-DD",
                column=name,
            )
        return ((stamps - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64").to_numpy()
    values = pd.to_numeric(s, errors="coerce")
    bad = s[s.notna() & values.isna()]
    if len(bad):
        raise InvalidDataError(
            f"{kind} column {name!r} of the {what} table holds values that are not numbers: "
            f"{_examples(bad)}; fix them or declare the column categorical in a schema",
            column=name,
        )
    out = values.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(out).any():
        raise InvalidDataError(
            f"{kind} column {name!r} of the {what} table holds infinite values; replace them", column=name
        )
    return out


def category_strings(s: pd.Series) -> np.ndarray:
    """Strings for a categorical column; missing → ``"<missing>"``; ``1.0`` → ``"1"``."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(arr)
        if np.all(arr[finite] == np.round(arr[finite])):
            text = np.array([str(int(v)) if f else MISSING for v, f in zip(arr, finite, strict=True)], object)
        else:
            text = np.array(
                [repr(float(v)) if f else MISSING for v, f in zip(arr, finite, strict=True)], object
            )
        return text

    def one(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            return MISSING
        if isinstance(v, float) and v == round(v):
            return str(int(v))
        return str(v)

    return np.array([one(v) for v in s.to_numpy(dtype=object)], dtype=object)


def prepare(df: pd.DataFrame, plan: ColumnPlan, what: str) -> Prepared:
    """Arrays of ``df``'s evaluated columns, typed by ``plan`` (see the module docstring)."""
    binary = _binary_block(df, plan.binary, what)
    numeric_names = plan.numeric
    numeric = np.empty((len(df), len(numeric_names)), dtype=np.float64)
    for j, name in enumerate(numeric_names):
        numeric[:, j] = _numeric_column(df[name], name, plan.kinds[name], what)
    categorical = {name: category_strings(df[name]) for name in plan.categorical}
    return Prepared(n_rows=len(df), binary=binary, numeric=numeric, categorical=categorical)
