"""Recording a frame's pandas dtypes in JSON and restoring them on a frame read back from CSV text.

:func:`describe_dtypes` stores, per column, ``str(dtype)`` and for categoricals the categories (JSON values),
their dtype and whether they are ordered. :func:`restore_dtypes` casts string cells back: a float stays float,
an ``int64`` without missing values stays ``int64``, nullable ``Int64`` stays ``Int64``, categoricals get
exactly the written categories, dates are ``datetime64`` (with their unit and time zone).
:func:`as_released_categories` turns a text column the schema calls categorical into ``category``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pandas as pd

TRUE_FALSE = {"True": True, "False": False, "true": True, "false": False}


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def describe_dtypes(df: pd.DataFrame) -> dict[str, Any]:
    """The JSON description of ``df``'s column dtypes (see the module docstring)."""
    dtypes: dict[str, str] = {}
    categories: dict[str, dict[str, Any]] = {}
    for name in df.columns:
        dtype = df[name].dtype
        dtypes[str(name)] = str(dtype)
        if isinstance(dtype, pd.CategoricalDtype):
            categories[str(name)] = {
                "values": [_json_scalar(c) for c in dtype.categories],
                "dtype": str(dtype.categories.dtype),
                "ordered": bool(dtype.ordered),
            }
    return {"dtypes": dtypes, "categories": categories}


def restore_dtypes(df: pd.DataFrame, description: dict[str, Any], *, from_text: bool) -> pd.DataFrame:
    """Cast ``df``'s columns to the dtypes in ``description``. ``from_text``: the cells are strings (CSV)."""
    dtypes = description.get("dtypes", {})
    categories = description.get("categories", {})
    for name in df.columns:
        dtype = dtypes.get(str(name))
        if dtype is None or (not from_text and str(df[name].dtype) == dtype != "object"):
            continue
        df[name] = _cast(df[name], dtype, categories.get(str(name)))
    return df


def _category_key(value: Any) -> tuple[str, Any]:
    """1, 1.0, np.int64(1) and "1" (text read back from CSV) match; "a" matches "a"."""
    if isinstance(value, (bool, np.bool_)):
        return ("b", bool(value))
    try:
        return ("n", float(value))
    except (TypeError, ValueError):
        return ("s", str(value))


def as_released_categories(s: pd.Series, categories: list[Any]) -> pd.Series:
    """A text/number column of a categorical-kind schema column as ``category`` with the released
    ``categories`` (in schema order); unchanged when it already is one or holds a value outside them."""
    if isinstance(s.dtype, pd.CategoricalDtype) or not categories:
        return s
    lookup = {_category_key(c): c for c in categories}
    if not s.dropna().map(lambda v: _category_key(v) in lookup).all():
        return s
    values = s.map(lambda v: lookup[_category_key(v)], na_action="ignore")
    return pd.Series(pd.Categorical(values, categories=pd.Index(categories)), index=s.index, name=s.name)


def _categorical(s: pd.Series, spec: dict[str, Any] | None) -> pd.Series:
    spec = spec or {"values": sorted(s.dropna().unique().tolist()), "dtype": "object", "ordered": False}
    index = pd.Index(spec["values"])
    with contextlib.suppress(TypeError, ValueError):
        index = index.astype(spec.get("dtype", "object"))
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        lookup = {str(c): c for c in index}
        values = s.map(lookup, na_action="ignore")
    else:
        values = s
    cat = pd.Categorical(values, categories=index, ordered=bool(spec.get("ordered", False)))
    return pd.Series(cat, index=s.index, name=s.name)


def _datetime(s: pd.Series, dtype: str) -> pd.Series:
    out = pd.to_datetime(s, format="ISO8601") if not pd.api.types.is_datetime64_any_dtype(s) else s
    target = pd.api.types.pandas_dtype(dtype)
    tz = getattr(target, "tz", None)
    if tz is not None:
        out = out.dt.tz_localize("UTC") if out.dt.tz is None else out
        out = out.dt.tz_convert(tz)
    return out.astype(target)


def _cast(s: pd.Series, dtype: str, spec: dict[str, Any] | None) -> pd.Series:
    if dtype == "category":
        return _categorical(s, spec)
    if dtype.startswith("datetime64"):
        return _datetime(s, dtype)
    if dtype in ("bool", "boolean"):
        values = s.map(lambda v: TRUE_FALSE.get(v, v) if isinstance(v, str) else v, na_action="ignore")
        return values.astype(dtype)
    if dtype == "object":
        return s.astype(object).where(s.notna(), np.nan)
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        numeric = pd.to_numeric(s, dtype_backend="numpy_nullable") if s.dtype == object else s
        return numeric.astype(dtype)
    if dtype.startswith(("float", "Float")):
        return pd.to_numeric(s).astype(dtype)
    try:
        return s.astype(dtype)
    except (TypeError, ValueError):
        return s
