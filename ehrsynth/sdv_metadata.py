"""SDV metadata interop: :meth:`Schema.from_sdv` / :meth:`Schema.to_sdv` (no SDV import needed).

The SDV single-table metadata dict (``SingleTableMetadata.to_dict()``, or a one-table ``Metadata`` dict with
``"tables"``) is ``{"columns": {name: {"sdtype": ..., ...}}, "primary_key": name}``. sdtype ↔ kind:

============================  =====================  =====================================================
SDV sdtype                    ehrsynth kind          notes
============================  =====================  =====================================================
``boolean``                   binary                 ``to_sdv`` writes binary columns as ``boolean``
``categorical``               categorical            binary when every value is a 0/1 number
``numerical``                 continuous or count    count: integers ≥ 0 (``computer_representation``
                                                     ``Int*``/``UInt*``, or integral data)
``datetime``                  datetime               ``datetime_format`` is used to parse strings
``id``, the ``primary_key``   identifier             fresh surrogate keys in the output
PII sdtypes (``email``,       identifier             never modelled; replaced by surrogate keys
``phone_number``, ``ssn``,
``name``…), ``unknown``, any
column with ``"pii": true``
``text``                      refused                ehrsynth does not synthesize free text
============================  =====================  =====================================================

SDV metadata carries kinds only, no bounds or categories. ``from_sdv(metadata, data=df)`` takes those from
``data`` — **not private**, exactly like :meth:`Schema.infer` (it reads every value); without ``data`` only
binary and identifier columns can be built. Under DP, declare bounds and categories yourself (edit the result
of ``from_sdv`` on public or synthetic data) or let ``MedGAN`` discover them under DP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import SchemaError
from ehrsynth.schema import Column, Kind, Schema, _to_python

SPEC_VERSION = "SINGLE_TABLE_V1"
INTEGER_REPRESENTATIONS = ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")
MODELLED_SDTYPES = {"boolean", "categorical", "numerical", "datetime"}


def _table(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(metadata, Mapping):
        raise SchemaError(f"SDV metadata must be a dict, found {type(metadata).__name__}")
    if "tables" in metadata:  # SDV >= 1.15 Metadata: accept a single table
        tables = metadata["tables"]
        if not isinstance(tables, Mapping) or len(tables) != 1:
            raise SchemaError(
                f"SDV metadata lists {len(tables) if isinstance(tables, Mapping) else 'no'} tables; ehrsynth "
                "models one table: pass that table's metadata (metadata['tables'][name])"
            )
        metadata = next(iter(tables.values()))
    if not isinstance(metadata.get("columns"), Mapping) or not metadata["columns"]:
        raise SchemaError(
            "SDV metadata needs a non-empty 'columns' mapping of column name to {'sdtype': ...}"
        )
    return metadata


def sdtype_kind(name: str, spec: Mapping[str, Any], primary_key: Any) -> Kind:
    """The ehrsynth kind of one SDV column (before looking at data)."""
    sdtype = spec.get("sdtype") if isinstance(spec, Mapping) else None
    if not isinstance(sdtype, str):
        raise SchemaError(f"SDV column {name!r} has no 'sdtype'", column=name)
    if sdtype == "text":
        raise SchemaError(
            f"SDV column {name!r} is 'text'; ehrsynth does not synthesize free text — drop the column or mark "
            "it 'id' to replace it with surrogate keys",
            column=name,
        )
    if name == primary_key or sdtype == "id" or spec.get("pii") or sdtype not in MODELLED_SDTYPES:
        return Kind.IDENTIFIER
    if sdtype == "boolean":
        return Kind.BINARY
    if sdtype == "datetime":
        return Kind.DATETIME
    if sdtype == "categorical":
        return Kind.CATEGORICAL
    integer = spec.get("computer_representation") in INTEGER_REPRESENTATIONS
    return Kind.COUNT if integer else Kind.CONTINUOUS


def from_sdv(metadata: Mapping[str, Any], data: pd.DataFrame | None = None) -> Schema:
    """A :class:`Schema` from SDV single-table metadata; bounds and categories come from ``data`` (NOT
    private: reads every value, like :meth:`Schema.infer`). See the module docstring for the mapping."""
    table = _table(metadata)
    primary_key = table.get("primary_key")
    columns = []
    for name, spec in table["columns"].items():
        kind = sdtype_kind(str(name), spec, primary_key)
        if data is None:
            if kind not in (Kind.BINARY, Kind.IDENTIFIER):
                raise SchemaError(
                    f"SDV metadata has no bounds or categories for {kind.value} column {name!r}; pass data= "
                    "(not private: reads the values) or declare them in an ehrsynth schema",
                    column=str(name),
                )
            columns.append(Column(str(name), kind, nullable=kind is Kind.IDENTIFIER))
            continue
        if name not in data.columns:
            raise SchemaError(f"SDV metadata lists column {name!r}, which the data lacks", column=str(name))
        columns.append(_column(str(name), kind, data[name], spec))
    if data is not None:
        extra = [c for c in data.columns if c not in table["columns"]]
        if extra:
            raise SchemaError(
                f"the data has columns the SDV metadata does not list: {extra[:5]}; add them to the metadata",
                column=str(extra[0]),
            )
    return Schema(columns)


def _column(name: str, kind: Kind, s: pd.Series, spec: Mapping[str, Any]) -> Column:
    from ehrsynth.inference import _datetime_column, _decimals, infer_column

    nullable, dtype = bool(s.isna().any()), str(s.dtype)
    if kind is Kind.IDENTIFIER:
        return Column(name, kind, nullable=nullable, dtype=dtype)
    if s.dropna().empty:
        raise SchemaError(f"column {name!r} has only missing values; drop it", column=name)
    if kind is Kind.DATETIME:
        fmt = spec.get("datetime_format")
        parsed = pd.to_datetime(s, format=fmt, errors="coerce") if fmt and s.dtype == object else s
        column = _datetime_column(name, parsed, nullable)
        return Column(**{**column.__dict__, "dtype": dtype})
    numbers = pd.to_numeric(s.dropna(), errors="coerce") if s.dtype != bool else s.dropna().astype(float)
    zero_one = numbers.notna().all() and bool(np.isin(numbers.to_numpy(dtype=float), [0.0, 1.0]).all())
    if kind is Kind.BINARY or (kind is Kind.CATEGORICAL and zero_one and pd.api.types.is_numeric_dtype(s)):
        return Column(name, Kind.BINARY, nullable=nullable, dtype=dtype)
    if kind is Kind.CATEGORICAL:
        values = sorted((_to_python(v) for v in s.dropna().unique()), key=lambda v: (str(type(v)), v))
        return Column(name, kind, nullable=nullable, categories=values, dtype=dtype)
    if numbers.isna().any():
        raise SchemaError(f"SDV says column {name!r} is numerical but it holds non-numbers", column=name)
    x = numbers.to_numpy(dtype=float)
    lo, hi = float(x.min()), float(x.max())
    integral = bool(np.all(x == np.round(x)))
    if kind is Kind.COUNT and not (integral and lo >= 0):
        kind = Kind.CONTINUOUS
    if kind is Kind.CONTINUOUS and integral and lo >= 0 and "computer_representation" not in spec:
        inferred = infer_column(name, s)  # the same rule as Schema.infer: integral, non-negative → count
        if inferred.kind is Kind.COUNT:
            return inferred
    if kind is Kind.COUNT:
        return Column(name, kind, nullable=nullable, lower=lo, upper=hi, dtype=dtype)
    decimals = 0 if integral else _decimals(x)
    return Column(name, kind, nullable=nullable, lower=lo, upper=hi, decimals=decimals, dtype=dtype)


def _sdv_column(col: Column) -> dict[str, Any]:
    dtype = (col.dtype or "").lower()
    if col.kind is Kind.IDENTIFIER:
        return {"sdtype": "id"}
    if col.kind is Kind.BINARY:
        return {"sdtype": "boolean"}
    if col.kind is Kind.CATEGORICAL:
        return {"sdtype": "categorical"}
    if col.kind is Kind.DATETIME:
        out: dict[str, Any] = {"sdtype": "datetime"}
        if not dtype.startswith("datetime"):  # dates stored as text need a format in SDV
            dated = col.time_unit == "D" and col.time_of_day is None  # DP dates with released times: stamps
            out["datetime_format"] = "%Y-%m-%d" if dated else "%Y-%m-%d %H:%M:%S"
        return out
    integer = col.kind is Kind.COUNT or dtype.startswith(("int", "uint")) or col.decimals == 0
    return {"sdtype": "numerical", "computer_representation": "Int64" if integer else "Float"}


def to_sdv(schema: Schema) -> dict[str, Any]:
    """SDV single-table metadata (``SingleTableMetadata.load_from_dict`` reads it). Bounds and categories have
    no place in SDV metadata and are left out; the one identifier column, if there is exactly one, is the
    primary key."""
    out: dict[str, Any] = {
        "METADATA_SPEC_VERSION": SPEC_VERSION,
        "columns": {col.name: _sdv_column(col) for col in schema.columns},
    }
    identifiers = [c.name for c in schema.columns if c.kind is Kind.IDENTIFIER]
    if len(identifiers) == 1:
        out["primary_key"] = identifiers[0]
    return out
