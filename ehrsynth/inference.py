"""Checking input frames and inferring a schema from data.

Inference rules (non-private; under DP use :mod:`ehrsynth.dp.discovery` or declare a schema), applied per
column in this order:

1. **identifier** — the name is a known identifier (``mrn``, ``ssn``, ``email``, ``phone``, ``name``,
   ``first_name``, ``last_name``, ``address``…) or the key of a patient or visit (``patient_nbr``, ``subject_id``,
   ``hadm_id``…, :data:`~ehrsynth.naming.PERSON_KEY_NAMES`: its values are real ids even when they repeat), or the name looks like a key (``id``, ``*_id``, ``*_nbr``,
   ``*_num``, entity ids such as ``patientid``, camelCase ``…Id``, ``pid*``, ``*idnum``; :mod:`ehrsynth.naming`) and more than half of the values are distinct, or a string column
   whose values are nearly all distinct (≥ 95 % of at least 20 non-missing values: missing values and a few
   repeats do not hide an ID or name column), or an integer column whose values are all distinct. Identifiers are never modelled: synthetic output gets fresh surrogate keys.
2. **datetime** — a datetime dtype, or strings that all look like ISO (``2196-04-09``) or ``m/d/Y`` dates.
3. **binary** — booleans, or numbers whose values are all 0 or 1.
4. **categorical** — strings with at most ``max_categories`` distinct values (more: an error, unless the values
   are long varied text, which is **free text** and refused); integers with at most 50 distinct values whose
   name says category (``*_id``, ``*type*``, ``*code*``, ``arm(s)``, ``strat*``, ``class``, ``stage``,
   ``grade``, ``group``, ``race``, ``gender``, ``sex``), and integers with at most 16 distinct values that are
   not simply ``0, 1, …, k`` (category codes stored as numbers, e.g. ``{3, 6, 7}``; the same rule as under DP).
5. **count** — other non-negative integers (including integral floats with missing values).
6. **continuous** — other numbers; ``decimals`` is the largest number of decimals seen (at most 6).

Every column records ``nullable`` (it has missing values), its bounds and its pandas dtype.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehrsynth.errors import FreeTextError, InvalidDataError, SchemaError
from ehrsynth.kinds import Column, Kind, _to_python
from ehrsynth.naming import (
    IDENTIFIER_NAMES,
    ISO_DATE,
    KEY_NAMES,
    US_DATE,
    is_category_name,
    is_code_name,
    is_never_modelled_name,
)

if TYPE_CHECKING:
    from ehrsynth.schema import Schema

MAX_INT_CATEGORIES = 50
MAX_CODE_VALUES = 16  # integers with at most this many distinct values that are not 0..k: category codes
NEAR_UNIQUE_SHARE = 0.95  # strings this distinct (missing values and a few repeats allowed) are identifiers
NEAR_UNIQUE_MIN_ROWS = 20
FREE_TEXT_MIN_MEAN_LENGTH = 25
EPOCH = pd.Timestamp("1970-01-01")


# -- frame-level checks ----------------------------------------------------------------------------------


def check_frame(df: Any, *, min_rows: int = 1, what: str = "input table") -> pd.DataFrame:
    """Validate structure shared by every entry point; returns the frame unchanged."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidDataError(f"{what} must be a pandas DataFrame, found {type(df).__name__}")
    if df.shape[1] == 0 or len(df) == 0:
        raise InvalidDataError(f"{what} is empty ({len(df)} rows x {df.shape[1]} columns); it needs rows")
    if len(df) < min_rows:
        raise InvalidDataError(
            f"{what} has {len(df)} row(s); at least {min_rows} are needed to learn anything useful"
        )
    bad = [c for c in df.columns if not isinstance(c, str) or not c]
    if bad:
        raise InvalidDataError(
            f"{what} has non-string column names {bad[:5]!r}; rename them to non-empty strings "
            "(e.g. df.columns = df.columns.map(str))",
            column=str(bad[0]),
        )
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise InvalidDataError(
            f"{what} has duplicate column names {dupes}; make them unique", column=dupes[0]
        )
    for name in df.columns:
        s = df[name]
        if s.isna().all():
            raise InvalidDataError(
                f"column {name!r} has only missing values; drop it or fill it before synthesis", column=name
            )
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            values = s.to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(values).any():
                raise InvalidDataError(
                    f"column {name!r} contains infinite values; replace them with missing values or finite "
                    "numbers",
                    column=name,
                )
        elif s.dtype == object:
            _check_mixed(name, s)
    return df


def _check_mixed(name: str, s: pd.Series) -> None:
    values = s.dropna()
    is_str = values.map(lambda v: isinstance(v, str))
    if is_str.any() and not is_str.all():
        example = values[~is_str].iloc[0]
        raise InvalidDataError(
            f"column {name!r} mixes strings and {type(example).__name__} values (e.g. {example!r}); "
            "convert it to one type (all strings for a categorical, all numbers otherwise)",
            column=name,
        )


# -- inference -----------------------------------------------------------------------------------------


def _is_integral(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def _decimals(values: np.ndarray, limit: int = 6) -> int:
    for d in range(limit + 1):
        if np.allclose(values, np.round(values, d), rtol=0, atol=10.0 ** -(limit + 3)):
            return d
    return limit


def _looks_like_dates(strings: pd.Series) -> bool:
    sample = strings.iloc[:1000]
    return bool(sample.map(lambda v: bool(ISO_DATE.match(v) or US_DATE.match(v))).all())


def _refuse_free_text(name: str, strings: pd.Series) -> None:
    """Long, mostly distinct strings with spaces are free text, which ehrsynth refuses to model."""
    if len(strings) == 0:
        return
    long_text = strings.str.len().mean() >= FREE_TEXT_MIN_MEAN_LENGTH
    worded = strings.str.contains(" ").mean() > 0.5
    if long_text and worded and strings.nunique() > 0.5 * len(strings):
        raise FreeTextError(
            f"column {name!r} looks like free text (long, mostly distinct strings); ehrsynth does not "
            "synthesize free text — drop the column, or declare it 'identifier' in a schema to replace it "
            "with surrogate keys",
            column=name,
        )


def _infer_identifier(name: str, s: pd.Series) -> bool:
    if is_never_modelled_name(name):
        return True
    nonnull = s.dropna()
    n_unique = nonnull.nunique()
    if KEY_NAMES.search(name) and n_unique > 0.5 * len(nonnull):
        return True
    if len(nonnull) < NEAR_UNIQUE_MIN_ROWS:
        return False
    if s.dtype == object or pd.api.types.is_string_dtype(s):  # nearly unique strings: IDs, names, numbers
        return bool(n_unique >= NEAR_UNIQUE_SHARE * len(nonnull))
    return bool(pd.api.types.is_integer_dtype(s) and n_unique == len(s))


def _datetime_column(name: str, s: pd.Series, nullable: bool) -> Column:
    ts = pd.to_datetime(s, errors="coerce")
    if ts.notna().sum() != s.notna().sum():
        raise InvalidDataError(f"column {name!r} has values that are not dates", column=name)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert(None)
    days = (ts.dropna() - EPOCH) / pd.Timedelta(days=1)
    unit = "D" if bool(np.all(days == np.floor(days))) else "s"
    return Column(
        name,
        Kind.DATETIME,
        nullable=nullable,
        lower=float(days.min()),
        upper=float(days.max()),
        dtype=str(s.dtype),
        time_unit=unit,
    )


def infer_column(name: str, s: pd.Series, *, max_categories: int = 1000) -> Column:
    nullable = bool(s.isna().any())
    dtype = str(s.dtype)
    if not IDENTIFIER_NAMES.match(name) and s.dtype == object:
        _refuse_free_text(name, s.dropna().astype(str))
    text = (s.dtype == object or pd.api.types.is_string_dtype(s)) and bool(s.notna().any())
    if text and not KEY_NAMES.search(name) and _looks_like_dates(s.dropna().astype(str)):
        return _datetime_column(name, s, nullable)  # timestamps are nearly unique strings, not identifiers
    if _infer_identifier(name, s):
        return Column(name, Kind.IDENTIFIER, nullable=nullable, dtype=dtype)
    if pd.api.types.is_datetime64_any_dtype(s):
        return _datetime_column(name, s, nullable)
    if pd.api.types.is_bool_dtype(s):
        return Column(name, Kind.BINARY, nullable=nullable, dtype=dtype)
    if pd.api.types.is_numeric_dtype(s):
        return _numeric_column(name, s, nullable, dtype, max_categories)
    strings = s.dropna().astype(str)
    if _looks_like_dates(strings):
        return _datetime_column(name, s, nullable)
    n_unique = strings.nunique()
    if n_unique > max_categories:
        raise InvalidDataError(
            f"categorical column {name!r} has {n_unique} distinct values (more than {max_categories}); group "
            "rare values, convert it to a code table (--long), or declare it 'identifier' in a schema",
            column=name,
        )
    values = s.dropna().unique()
    categories = sorted((_to_python(v) for v in values), key=lambda v: (str(type(v)), v))
    return Column(name, Kind.CATEGORICAL, nullable=nullable, categories=categories, dtype=dtype)


def _numeric_column(name: str, s: pd.Series, nullable: bool, dtype: str, max_categories: int) -> Column:
    values = s.dropna().to_numpy(dtype="float64")
    uniq = np.unique(values)
    if np.isin(uniq, [0.0, 1.0]).all():
        return Column(name, Kind.BINARY, nullable=nullable, dtype=dtype)
    lo, hi = float(values.min()), float(values.max())
    # codes (CPT, NDC…) are labels: the values held, none between
    if is_code_name(name) and len(uniq) <= max_categories:
        cats = [_to_python(int(v)) if v == np.floor(v) else _to_python(float(v)) for v in uniq]
        return Column(name, Kind.CATEGORICAL, nullable=nullable, categories=cats, dtype=dtype)
    if _is_integral(values):
        coded = len(uniq) <= MAX_CODE_VALUES and not np.array_equal(uniq, np.arange(len(uniq)))
        if (len(uniq) <= MAX_INT_CATEGORIES and is_category_name(name)) or coded:
            cats = [_to_python(int(v)) for v in uniq]
            return Column(name, Kind.CATEGORICAL, nullable=nullable, categories=cats, dtype=dtype)
        if lo >= 0:
            return Column(name, Kind.COUNT, nullable=nullable, lower=lo, upper=hi, dtype=dtype)
        return Column(name, Kind.CONTINUOUS, nullable=nullable, lower=lo, upper=hi, decimals=0, dtype=dtype)
    return Column(
        name, Kind.CONTINUOUS, nullable=nullable, lower=lo, upper=hi, decimals=_decimals(values), dtype=dtype
    )


def infer_column_as(declared: Column, s: pd.Series, *, max_categories: int = 1000) -> Column:
    """Non-private inference of what a declared column leaves open, keeping its declared kind."""
    nullable = bool(s.isna().any())
    if declared.has_domain or declared.kind in (Kind.IDENTIFIER, Kind.BINARY):
        return replace(declared, nullable=declared.nullable or nullable)
    dtype = declared.dtype or str(s.dtype)
    if declared.kind is Kind.DATETIME:
        return replace(_datetime_column(declared.name, s, nullable), dtype=dtype)
    if declared.kind is Kind.CATEGORICAL:
        values = s.dropna().unique()
        cats = sorted((_to_python(v) for v in values), key=lambda v: (str(type(v)), v))
        return replace(declared, nullable=nullable, categories=cats, dtype=dtype)
    x = s.dropna().to_numpy(dtype="float64")
    integral = declared.kind is Kind.COUNT or _is_integral(x)
    decimals = 0 if integral else _decimals(x)
    return replace(
        declared,
        nullable=nullable,
        lower=float(x.min()),
        upper=float(x.max()),
        decimals=decimals,
        dtype=dtype,
    )


def infer_columns(df: pd.DataFrame, *, max_categories: int = 1000) -> list[Column]:
    """One inferred :class:`Column` per column of ``df`` (wrapped in a Schema by ``Schema.infer``)."""
    check_frame(df)
    return [infer_column(name, df[name], max_categories=max_categories) for name in df.columns]


# -- validation against a schema ---------------------------------------------------------------------------


def validate_frame(schema: Schema, df: pd.DataFrame, *, strict: bool = True) -> None:
    check_frame(df)
    missing = [n for n in schema.names if n not in df.columns]
    extra = [n for n in df.columns if n not in schema.names]
    if missing or extra:
        raise SchemaError(
            f"the schema does not match the data: columns in the schema but not the data: {missing}; "
            f"in the data but not the schema: {extra}; edit the schema or the table so they agree",
            column=(missing or extra)[0],
        )
    for col in schema.columns:
        _validate_column(col, df[col.name], strict=strict)


def _validate_column(col: Column, s: pd.Series, *, strict: bool) -> None:
    name = col.name
    if s.isna().any() and not col.nullable and strict:
        raise SchemaError(
            f"column {name!r} has missing values but the schema says nullable: false; set nullable: true",
            column=name,
        )
    values = s.dropna()
    if col.kind is Kind.IDENTIFIER or len(values) == 0:
        return
    if col.kind in (Kind.BINARY, Kind.COUNT, Kind.CONTINUOUS):
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            raise SchemaError(
                f"column {name!r} is {col.kind.value} in the schema but holds non-numeric values "
                f"(e.g. {values.iloc[0]!r})",
                column=name,
            )
        x = values.to_numpy(dtype="float64")
        if col.kind is Kind.BINARY and not np.isin(x, [0.0, 1.0]).all():
            raise SchemaError(f"binary column {name!r} has values other than 0/1", column=name)
        if col.kind is Kind.COUNT:
            if (x < 0).any():
                raise InvalidDataError(
                    f"count column {name!r} has negative values (min {x.min():g}); counts must be >= 0 — "
                    "fix the data or declare the column 'continuous'",
                    column=name,
                )
            if not _is_integral(x):
                raise SchemaError(f"count column {name!r} has non-integer values", column=name)
        bounded = strict and col.lower is not None and col.upper is not None
        if bounded and (x.min() < col.lower or x.max() > col.upper):
            raise SchemaError(
                f"column {name!r} has values in [{x.min():g}, {x.max():g}], outside the schema bounds "
                f"[{col.lower:g}, {col.upper:g}]; widen the bounds in the schema",
                column=name,
            )
    elif col.kind is Kind.CATEGORICAL and strict:
        allowed = {repr(_to_python(c)) for c in col.categories or []}
        unknown = [v for v in values.unique() if repr(_to_python(v)) not in allowed]
        if unknown:
            raise SchemaError(
                f"column {name!r} has values not in the schema's categories, e.g. {unknown[:3]!r}; add them "
                "to 'categories' in the schema",
                column=name,
            )
    elif col.kind is Kind.DATETIME:
        ts = pd.to_datetime(values, errors="coerce")
        if ts.isna().any():
            raise SchemaError(f"datetime column {name!r} has values that are not dates", column=name)
