"""Which columns the evaluation compares, and how each is typed.

Column kinds come from a schema JSON when one is given (only each column's ``name`` and ``kind`` are read,
so any file written by :mod:`ehrsynth.schema` works), otherwise from :func:`infer_kinds`, fitted on the
**training** table only. Inference rules, per column, in this order:

1. only missing values → excluded ("only missing values");
2. the name of a direct identifier (``mrn``, ``ssn``, ``email``, ``phone``, ``first_name``…), or a key-like
   name (``id``, ``*_id``, ``*_nbr``, ``*_num``, ``*_no``, ``*_key``…) with more than half of the values
   distinct → excluded as identifier-like (the naming rules are :mod:`ehrsynth.naming`, shared with the
   synthesizer and the privacy audit);
3. a datetime dtype, or strings that all look like ISO (``2196-04-09``) or ``m/d/Y`` dates → ``datetime``;
4. an integer/string column (at least 20 rows) whose values are all distinct, or a string column with more
   than 50 distinct values that are distinct in more than half of the rows (keys, names or free text) →
   excluded as identifier-like;
5. booleans, or numbers that are all 0 or 1 → ``binary``;
6. integers named like a category (``*_id``, ``*type*``, ``*code*``, ``arm(s)``, ``strat*``, ``*class*``,
   ``*stage*``, ``*grade*``, ``*group*``, ``race``, ``gender``, ``sex``, ``*status*``) with at most 50 distinct
   values, and integers named as codes (:func:`~ehrsynth.naming.is_code_name`: ``cpt_cd``, ``ndc``, any number
   of values) → ``categorical``;
7. other numbers → ``count`` when all are non-negative integers, else ``continuous``;
8. anything else → ``categorical``.

Columns of a schema whose kind is ``identifier``, and data columns the schema does not list, are excluded
and listed in the report with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.column_sets import column_difference, describe_difference, preview
from ehrsynth.errors import InvalidDataError, SchemaError
from ehrsynth.naming import (
    is_category_name,
    is_code_name,
    is_identifier_name,
    is_key_name,
    is_person_key_name,
    looks_like_date,
)
from ehrsynth.schema_json import KIND_NAMES, SchemaLike, SupportsToDict, declared_kinds

__all__ = [
    "KINDS",
    "NUMERIC_KINDS",
    "ColumnPlan",
    "SchemaLike",
    "SupportsToDict",
    "check_frame",
    "check_same_columns",
    "infer_kinds",
    "plan_columns",
    "schema_kinds",
]

KINDS: tuple[str, ...] = KIND_NAMES
NUMERIC_KINDS: tuple[str, ...] = ("count", "continuous", "datetime")
MAX_INT_CATEGORIES = 50
MIN_ROWS_FOR_UNIQUE_KEY = 20


@dataclass(frozen=True)
class ColumnPlan:
    """The evaluated columns with their kinds (in the training table's order) and the excluded ones."""

    kinds: dict[str, str]
    excluded: dict[str, str] = field(default_factory=dict)
    source: str = "inferred"

    def of(self, *kinds: str) -> list[str]:
        """Names of the evaluated columns whose kind is one of ``kinds``, in table order."""
        return [name for name, kind in self.kinds.items() if kind in kinds]

    @property
    def binary(self) -> list[str]:
        return self.of("binary")

    @property
    def numeric(self) -> list[str]:
        """Count, continuous and datetime columns (compared as numbers)."""
        return self.of(*NUMERIC_KINDS)

    @property
    def categorical(self) -> list[str]:
        return self.of("categorical")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        for kind in KINDS[:-1]:
            out[kind] = self.of(kind)
        out["excluded"] = dict(self.excluded)
        return out


# -- schema --------------------------------------------------------------------------------------------------


def schema_kinds(schema: SchemaLike) -> dict[str, str]:
    """``{name: kind}`` from a schema JSON object ``{"columns": [{"name", "kind"}, ...]}`` (a path, a dict or
    an object with ``to_dict()``); read by :func:`ehrsynth.schema_json.declared_kinds`."""
    return declared_kinds(schema)


# -- inference -----------------------------------------------------------------------------------------------


def _is_integral(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def _infer_one(name: str, s: pd.Series) -> tuple[str | None, str]:
    """(kind, "") for an evaluated column, or (None, reason) for an excluded one."""
    values = s.dropna()
    n = len(values)
    if n == 0:
        return None, "only missing values"
    n_unique = int(values.nunique())
    is_bool = pd.api.types.is_bool_dtype(s)
    is_num = pd.api.types.is_numeric_dtype(s) and not is_bool
    is_float = pd.api.types.is_float_dtype(s)
    is_text = s.dtype == object or isinstance(s.dtype, pd.StringDtype)
    if is_identifier_name(name):
        return None, "identifier: the name of a direct identifier"
    if is_key_name(name) and n_unique > 0.5 * n and not is_bool:
        return None, "identifier-like: key name and mostly distinct values"
    if is_person_key_name(name):
        return None, "identifier: the key of a patient or visit"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime", ""
    if is_text and values.map(lambda v: isinstance(v, str) and looks_like_date(v)).all():
        return "datetime", ""
    if n >= MIN_ROWS_FOR_UNIQUE_KEY and n_unique == n and (is_text or (is_num and not is_float)):
        return None, "identifier-like: every value is distinct"
    if is_text and n_unique > MAX_INT_CATEGORIES and n_unique > 0.5 * n:
        return None, "identifier-like or free text: too many distinct strings"
    if is_bool:
        return "binary", ""
    if is_num:
        arr = values.to_numpy(dtype="float64")
        if np.isin(arr, (0.0, 1.0)).all():
            return "binary", ""
        integral = _is_integral(arr)
        if integral and (is_code_name(name) or (is_category_name(name) and n_unique <= MAX_INT_CATEGORIES)):
            return "categorical", ""  # codes (cpt_cd, ndc) are labels, as the synthesizer models them
        return ("count" if integral and arr.min() >= 0 else "continuous"), ""
    return "categorical", ""


def infer_kinds(train: pd.DataFrame) -> ColumnPlan:
    """Type every column of ``train`` by the rules in this module's docstring."""
    kinds: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for name in train.columns:
        kind, reason = _infer_one(str(name), train[name])
        if kind is None:
            excluded[str(name)] = reason
        else:
            kinds[str(name)] = kind
    return ColumnPlan(kinds=kinds, excluded=excluded, source="inferred")


def plan_columns(train: pd.DataFrame, schema: SchemaLike | None) -> ColumnPlan:
    """Kinds from ``schema`` when given (checked against ``train``), else inferred from ``train``."""
    plan = infer_kinds(train) if schema is None else _plan_from_schema(train, schema_kinds(schema))
    if not plan.kinds:
        raise InvalidDataError(
            "no column of the training table can be evaluated (all are excluded: "
            f"{preview(sorted(plan.excluded))}); provide binary, count, categorical or continuous columns"
        )
    return plan


def _plan_from_schema(train: pd.DataFrame, declared: dict[str, str]) -> ColumnPlan:
    missing = [name for name in declared if name not in train.columns]
    if missing:
        raise SchemaError(
            f"the schema lists columns that the training table does not have: {preview(missing)}; "
            "use the schema written for this table or remove those entries",
            column=missing[0],
        )
    kinds: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for name in train.columns:
        kind = declared.get(str(name))
        if kind is None:
            excluded[str(name)] = "not in the schema"
        elif kind == "identifier":
            excluded[str(name)] = "identifier (schema)"
        elif train[name].isna().all():
            excluded[str(name)] = "only missing values"
        else:
            kinds[str(name)] = kind
    return ColumnPlan(kinds=kinds, excluded=excluded, source="schema")


# -- frame checks ------------------------------------------------------------------------------------------


def check_frame(df: Any, what: str) -> pd.DataFrame:
    """A non-empty DataFrame (at least 2 rows) with unique, non-empty string column names."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidDataError(f"the {what} table must be a pandas DataFrame, found {type(df).__name__}")
    if df.shape[1] == 0 or len(df) < 2:
        raise InvalidDataError(
            f"the {what} table is empty or too small ({len(df)} rows x {df.shape[1]} columns); "
            "it needs columns and at least 2 rows"
        )
    bad = [c for c in df.columns if not isinstance(c, str) or not c]
    if bad:
        raise InvalidDataError(
            f"the {what} table has non-string column names {bad[:5]!r}; rename them to non-empty strings "
            "(e.g. df.columns = df.columns.map(str))",
            column=str(bad[0]),
        )
    if df.columns.has_duplicates:
        dupes = sorted(set(df.columns[df.columns.duplicated()]))
        raise InvalidDataError(
            f"the {what} table has duplicate column names {dupes}; make them unique", column=dupes[0]
        )
    return df


def check_same_columns(train: pd.DataFrame, other: pd.DataFrame, what: str, plan: ColumnPlan) -> None:
    """``other`` must hold every evaluated column of train and no column train lacks.

    Excluded columns (identifiers) may be absent: synthetic tables often drop or replace keys.
    """
    missing = [c for c in plan.kinds if c not in other.columns]
    extra = column_difference(train.columns, other.columns)[1]
    if missing or extra:
        diff = describe_difference(
            missing,
            extra,
            missing_label="lacks {n} column(s) of the training table",
            extra_label="has {n} column(s) the training table does not",
        )
        raise InvalidDataError(
            f"the {what} table {diff}; all tables must have the same columns "
            "(pass the files that belong together, or drop/rename the columns that differ)",
            column=(missing or extra)[0],
        )
