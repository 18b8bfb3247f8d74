"""Column typing for the audit: from a schema when given, otherwise inferred from train + holdout only.

The synthetic table never influences typing, so a synthesizer cannot make its own output look safer.

Kinds used by the audit:

- ``binary``: 0/1 numbers or booleans without missing values (codes present/absent);
- ``numeric``: other numbers (counts, continuous values, dates as days);
- ``categorical``: everything else (text, categories, 0/1 with missing values);
- identifiers are dropped and listed in the report: columns declared ``identifier`` in the schema, or (without a
  schema) columns named like ``mrn``, ``ssn``, ``email``…, key-like names (``id``, ``*_id``, ``*_nbr``…) with
  more than half distinct values, and integer or text columns whose values are all distinct. The naming rules
  are :mod:`ehrsynth.naming`, the same ones the synthesizer uses.

A schema is the JSON written by ``ehrsynth schema`` (a path, the parsed dict or a Schema), read by
:func:`ehrsynth.schema_json.declared_kinds`; only each column's ``name`` and ``kind`` are used: binary → binary; count, continuous, datetime → numeric; categorical → categorical;
identifier → dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.column_sets import column_difference, describe_difference
from ehrsynth.errors import InvalidParameterError, SchemaError
from ehrsynth.naming import is_identifier_name, is_key_name, is_person_key_name, is_quasi_identifier_name
from ehrsynth.schema_json import SchemaLike, declared_kinds

KINDS = ("binary", "numeric", "categorical")
SCHEMA_KIND_MAP = {
    "binary": "binary",
    "count": "numeric",
    "continuous": "numeric",
    "datetime": "numeric",
    "categorical": "categorical",
    "identifier": "identifier",
}
MIN_ROWS_FOR_UNIQUE_RULE = 20


@dataclass
class ColumnTyping:
    """Kinds of the audited columns and the identifier-like columns that were dropped."""

    kinds: dict[str, str]
    dropped: dict[str, str] = field(default_factory=dict)
    source: str = "inferred"

    @property
    def names(self) -> list[str]:
        return list(self.kinds)

    def of_kind(self, kind: str) -> list[str]:
        return [n for n, k in self.kinds.items() if k == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kinds": dict(self.kinds),
            "counts": {k: len(self.of_kind(k)) for k in KINDS},
            "dropped_identifiers": [{"name": n, "reason": r} for n, r in self.dropped.items()],
        }


def typing_from_schema(schema: SchemaLike, columns: Sequence[str]) -> ColumnTyping:
    """Kinds declared by a schema; its column set must equal the tables' column set."""
    declared = [(name, SCHEMA_KIND_MAP[kind]) for name, kind in declared_kinds(schema).items()]
    missing, extra = column_difference(columns, [n for n, _ in declared])
    if missing or extra:
        diff = describe_difference(
            missing,
            extra,
            missing_label="in the tables but not the schema",
            extra_label="in the schema but not the tables",
        )
        raise SchemaError(
            f"the schema does not match the tables ({diff}); regenerate it with `ehrsynth schema` "
            "on the training table or edit it",
            column=(missing or extra)[0],
        )
    lookup = dict(declared)
    kinds = {c: lookup[c] for c in columns if lookup[c] != "identifier"}
    dropped = {c: "declared identifier in the schema" for c in columns if lookup[c] == "identifier"}
    return ColumnTyping(kinds=kinds, dropped=dropped, source="schema")


def _identifier_reason(name: str, s: pd.Series) -> str | None:
    nonnull = s.dropna()
    n = len(nonnull)
    if n == 0:
        return None
    distinct = nonnull.nunique()
    if is_key_name(name) and distinct > 0.5 * n:
        return f"key-like name with {distinct} distinct values in {n} rows"
    is_int = pd.api.types.is_integer_dtype(s) or (
        pd.api.types.is_float_dtype(s) and bool(np.all(nonnull.to_numpy() == np.round(nonnull.to_numpy())))
    )
    is_text = not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if (is_int or is_text) and n >= MIN_ROWS_FOR_UNIQUE_RULE and distinct == n and len(s) == n:
        return "every value distinct (a record key)"
    return None


def numeric_blocks(
    frames: Sequence[pd.DataFrame], names: Sequence[str], *, chunk: int = 128, dtype: Any = np.float32
) -> Iterator[tuple[list[str], np.ndarray]]:
    """Chunks of columns of the stacked frames as 2-D arrays (``dtype=None``: the frames' own dtype).

    Wide 0/1 tables are handled a block at a time instead of column by column; memory stays at one chunk.
    """
    names = list(names)
    for start in range(0, len(names), chunk):
        cols = names[start : start + chunk]
        parts = []
        for f in frames:
            sub = f[cols]
            if dtype is None:
                arr = sub.to_numpy()
                if arr.dtype.kind not in "biuf":  # mixed or nullable dtypes
                    arr = sub.to_numpy(dtype=np.float32, na_value=np.nan)
                parts.append(arr)
            else:
                parts.append(sub.to_numpy(dtype=dtype, na_value=np.nan))
        yield cols, parts[0] if len(parts) == 1 else np.concatenate(parts)


def _days(s: pd.Series) -> np.ndarray:
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    out = np.full(len(s), np.nan)
    ok = s.notna().to_numpy()
    out[ok] = (s[ok] - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy() / 86400.0
    return out


def to_float(s: pd.Series) -> np.ndarray:
    """Values of a numeric-kind column as float64 (missing and unparseable values: NaN).

    Accepts numbers, booleans, nullable and categorical dtypes, datetimes (as days since 1970-01-01) and text
    holding numbers or dates (as read from a CSV).
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.cat.categories.dtype if len(s.cat.categories) else object)
    if pd.api.types.is_datetime64_any_dtype(s):
        return _days(s)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    numbers = pd.to_numeric(s, errors="coerce")
    present = int(s.notna().sum())
    if int(numbers.notna().sum()) >= present:
        return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    dates = pd.to_datetime(s, errors="coerce", format="mixed")
    if int(dates.notna().sum()) > int(numbers.notna().sum()):
        return _days(dates)
    return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan))


def check_kinds(typing: ColumnTyping, frames: Sequence[pd.DataFrame]) -> list[str]:
    """Check declared (schema) kinds against the real rows; returns notes about adjustments.

    A ``numeric`` column must hold numbers or dates; a ``binary`` column only 0/1 (a binary column with missing
    values is audited as categorical 0 / 1 / missing, with a note).
    """
    notes = []
    for name, kind in list(typing.kinds.items()):
        if kind == "categorical":
            continue
        s = real_column(frames, name)
        values = to_float(s)
        bad = s.notna().to_numpy() & np.isnan(values)
        if bad.any():
            example = s[bad].iloc[0]
            raise SchemaError(
                f"column {name!r} is {kind} but holds {example!r}, which is not a number or date; declare it "
                "categorical in the schema or fix the values",
                column=name,
            )
        if kind == "binary":
            present = values[~np.isnan(values)]
            if not ((present == 0) | (present == 1)).all():
                other = present[(present != 0) & (present != 1)][0]
                raise SchemaError(
                    f"column {name!r} is binary but holds the value {other:g}; binary columns hold only 0 and 1 — "
                    "declare it count or categorical in the schema",
                    column=name,
                )
            if np.isnan(values).any():
                typing.kinds[name] = "categorical"
                notes.append(
                    f"binary column {name} has missing values: audited as categorical (0, 1, missing)"
                )
    return notes


def real_column(frames: Sequence[pd.DataFrame], name: str) -> pd.Series:
    """One column of the real rows (train and holdout stacked), without copying whole tables."""
    if len(frames) == 1:
        return frames[0][name]
    return pd.concat([f[name] for f in frames], ignore_index=True)


def infer_typing(frames: Sequence[pd.DataFrame]) -> ColumnTyping:
    """Infer kinds from the real rows (train and holdout); see the module docstring for the rules."""
    first = frames[0]
    names = list(first.columns)
    # fast path for wide 0/1 code tables: numeric columns are screened a block at a time
    numeric = [
        n
        for n in names
        if pd.api.types.is_numeric_dtype(first[n]) and not pd.api.types.is_bool_dtype(first[n])
    ]
    zero_one: dict[str, bool] = {}
    has_missing: dict[str, bool] = {}
    for cols, block in numeric_blocks(frames, numeric, dtype=np.float32):
        missing = np.isnan(block)
        ok = (block == 0.0) | (block == 1.0) | missing
        zero_one.update(zip(cols, ok.all(axis=0).tolist(), strict=True))
        has_missing.update(zip(cols, missing.any(axis=0).tolist(), strict=True))
    kinds: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name in names:
        if is_identifier_name(name):
            dropped[name] = "name of a direct identifier"
            continue
        if is_person_key_name(name):
            dropped[name] = "key of a patient or visit"
            continue
        if zero_one.get(name):  # 0/1 codes: never identifiers
            kinds[name] = "categorical" if has_missing[name] else "binary"
            continue
        s = real_column(frames, name)
        if pd.api.types.is_bool_dtype(s):
            kinds[name] = "binary" if not s.isna().any() else "categorical"
            continue
        reason = _identifier_reason(name, s)
        if reason is not None:
            dropped[name] = reason
        elif pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            kinds[name] = "numeric"
        else:
            kinds[name] = "categorical"
    if not kinds:
        raise SchemaError(
            f"every column looks like an identifier ({', '.join(list(dropped)[:10])}); nothing is left to audit "
            "— pass a schema that declares the kinds"
        )
    return ColumnTyping(kinds=kinds, dropped=dropped, source="inferred")


def resolve_names(names: Sequence[str] | str | None, typing: ColumnTyping, what: str) -> list[str] | None:
    """Check user-named columns (a list or a comma-separated string); ``None`` stays ``None`` (defaults)."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(dict.fromkeys(names))
    if not names:
        raise InvalidParameterError(f"the list of {what} is empty; name at least one column or leave it out")
    dropped = [n for n in names if n in typing.dropped]
    if dropped:
        raise InvalidParameterError(
            f"{what} {dropped} are identifier columns, which the audit drops; choose other columns",
            column=dropped[0],
        )
    unknown = [n for n in names if n not in typing.kinds]
    if unknown:
        available = ", ".join(repr(c) for c in typing.names[:15])
        more = f" and {len(typing.names) - 15} more" if len(typing.names) > 15 else ""
        raise InvalidParameterError(
            f"unknown {what} {unknown}: no such column in the tables; available columns: {available}{more}",
            column=unknown[0],
        )
    return names


def default_quasi_identifiers(
    typing: ColumnTyping, prevalence: Mapping[str, float], n_codes: int, exclude: Sequence[str] = ()
) -> list[str]:
    """Demographic-looking non-binary columns plus the ``n_codes`` most common binary columns (medGAN's
    attribute-disclosure setting: the attacker knows a patient's demographics and common diagnoses)."""
    skip = set(exclude)
    demographics = [
        n for n, k in typing.kinds.items() if k != "binary" and n not in skip and is_quasi_identifier_name(n)
    ]
    binary = [n for n in typing.of_kind("binary") if n not in skip and 0.0 < prevalence.get(n, 0.0) < 1.0]
    common = sorted(binary, key=lambda n: (-prevalence[n], n))[:n_codes]
    chosen = demographics + common
    if not chosen:
        others = [n for n in typing.names if n not in skip]
        chosen = others[: min(3, max(1, len(others) - 1))]
    return chosen


def default_sensitive(
    typing: ColumnTyping,
    prevalence: Mapping[str, float],
    n_real: int,
    quasi_identifiers: Sequence[str],
    n_attributes: int,
    majority: Mapping[str, tuple[int, float]],
) -> list[str]:
    """The rarest binary columns that still have enough positives to estimate a rate (at least
    ``max(10, 1 % of the real rows)``), outside the quasi-identifiers. Without such codes, the categorical columns
    with 2–20 categories whose most common value (missing included) covers less than 95 % of the rows, least
    predictable first; without those, numeric columns (inferred by quantile bin). ``majority`` maps a categorical
    column to (number of categories, majority share)."""
    qi = set(quasi_identifiers)
    min_count = max(10, int(np.ceil(0.01 * n_real)))
    candidates = [
        n
        for n in typing.of_kind("binary")
        if n not in qi and prevalence.get(n, 0.0) * n_real >= min_count and prevalence[n] < 0.5
    ]
    chosen = sorted(candidates, key=lambda n: (prevalence[n], n))[:n_attributes]
    if chosen:
        return chosen
    categorical = [
        n
        for n in typing.of_kind("categorical")
        if n not in qi and n in majority and 2 <= majority[n][0] <= 20 and majority[n][1] < 0.95
    ]
    if categorical:
        return sorted(categorical, key=lambda n: (majority[n][1], n))[:n_attributes]
    return [n for n in typing.of_kind("numeric") if n not in qi][:n_attributes]  # inferred as quantile bins
