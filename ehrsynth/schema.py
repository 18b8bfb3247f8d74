"""Column kinds and the table schema.

A :class:`Schema` is an ordered list of :class:`Column` s. It is either *declared* by the user (a JSON file
they wrote or edited; reading it spends no privacy budget), *inferred* from the data with
:meth:`Schema.infer` (non-private: it reads the data freely), or *discovered* under differential privacy by
:mod:`ehrsynth.dp.discovery` (category sets, code vocabulary and bounds come from DP mechanisms).

JSON form (``schema.json``)::

    {"version": 1, "columns": [
        {"name": "age", "kind": "continuous", "nullable": false, "lower": 18.0, "upper": 90.0,
         "decimals": 0, "dtype": "int64"},
        {"name": "race", "kind": "categorical", "nullable": true,
         "categories": ["AfricanAmerican", "Caucasian"], "dtype": "object"},
        {"name": "dx_250", "kind": "binary", "nullable": false, "dtype": "uint8"},
        {"name": "patient_nbr", "kind": "identifier", "dtype": "int64"}]}
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import SchemaError

SCHEMA_VERSION = 1


class Kind(str, Enum):
    """How a column is modelled (DESIGN §2)."""

    BINARY = "binary"
    COUNT = "count"
    CATEGORICAL = "categorical"
    CONTINUOUS = "continuous"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"


Scalar = str | int | float | bool


def _to_python(value: Any) -> Scalar:
    """Turn numpy scalars into JSON-able Python scalars."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass
class Column:
    """One column of a schema.

    ``lower``/``upper`` bound count, continuous and datetime columns (datetime bounds are days since
    1970-01-01). ``decimals`` rounds decoded continuous values (``None``: no rounding). ``categories`` is the
    domain of a categorical column. ``dtype`` is the pandas dtype to restore on output. ``time_unit`` is
    ``"D"`` (dates) or ``"s"`` (timestamps) for datetime columns.
    """

    name: str
    kind: Kind
    nullable: bool = False
    categories: list[Scalar] | None = None
    lower: float | None = None
    upper: float | None = None
    decimals: int | None = None
    dtype: str | None = None
    time_unit: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SchemaError(f"column names must be non-empty strings, found {self.name!r}")
        try:
            self.kind = Kind(self.kind)
        except ValueError:
            allowed = ", ".join(k.value for k in Kind)
            raise SchemaError(
                f"column {self.name!r} has unknown kind {self.kind!r}; allowed: {allowed}", column=self.name
            ) from None
        self._check()

    def _check(self) -> None:
        name = self.name
        if self.kind is Kind.CATEGORICAL:
            if not self.categories:
                raise SchemaError(
                    f"categorical column {name!r} needs a non-empty 'categories' list", column=name
                )
            if len(set(map(repr, self.categories))) != len(self.categories):
                raise SchemaError(f"categorical column {name!r} lists a category twice", column=name)
        if self.kind in (Kind.COUNT, Kind.CONTINUOUS, Kind.DATETIME):
            if self.lower is None or self.upper is None:
                raise SchemaError(
                    f"{self.kind.value} column {name!r} needs numeric 'lower' and 'upper' bounds", column=name
                )
            if not (math.isfinite(self.lower) and math.isfinite(self.upper)) or self.lower > self.upper:
                raise SchemaError(
                    f"column {name!r} has invalid bounds [{self.lower}, {self.upper}]; need finite lower <= upper",
                    column=name,
                )
            if self.kind is Kind.COUNT and self.lower < 0:
                raise SchemaError(f"count column {name!r} needs lower >= 0, found {self.lower}", column=name)
        if self.time_unit not in (None, "D", "s"):
            raise SchemaError(f"column {name!r}: time_unit must be 'D' or 's'", column=name)

    @property
    def modelled(self) -> bool:
        return self.kind is not Kind.IDENTIFIER

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind.value, "nullable": self.nullable}
        for key in ("categories", "lower", "upper", "decimals", "dtype", "time_unit"):
            value = getattr(self, key)
            if value is not None:
                out[key] = [_to_python(v) for v in value] if key == "categories" else _to_python(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Column:
        if not isinstance(data, dict) or "name" not in data or "kind" not in data:
            raise SchemaError(f"each schema column needs 'name' and 'kind', found {data!r}")
        known = {"name", "kind", "nullable", "categories", "lower", "upper", "decimals", "dtype", "time_unit"}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(
                f"column {data['name']!r} has unknown keys {sorted(unknown)}; allowed: {sorted(known)}",
                column=str(data["name"]),
            )
        kwargs = dict(data)
        for key in ("lower", "upper"):
            if kwargs.get(key) is not None:
                kwargs[key] = float(kwargs[key])
        return cls(**kwargs)


@dataclass
class Schema:
    """An ordered list of columns. Build with :meth:`infer`, :meth:`from_dict` or :meth:`load`."""

    columns: list[Column] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaError(f"schema lists columns more than once: {dupes}", column=dupes[0])

    # -- access ---------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def modelled(self) -> list[Column]:
        return [c for c in self.columns if c.modelled]

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __getitem__(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def replace_column(self, column: Column) -> Schema:
        return Schema([column if c.name == column.name else c for c in self.columns])

    def without(self, names: Sequence[str]) -> Schema:
        drop = set(names)
        return Schema([replace(c) for c in self.columns if c.name not in drop])

    # -- JSON -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"version": SCHEMA_VERSION, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise SchemaError("a schema is a JSON object with a 'columns' list")
        if data.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise SchemaError(
                f"schema version {data.get('version')!r} is not supported; this ehrsynth reads version "
                f"{SCHEMA_VERSION}"
            )
        return cls([Column.from_dict(c) for c in data["columns"]])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Schema:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        from ehrsynth.io.atomic import write_text_atomic

        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Schema:
        p = Path(path)
        if not p.is_file():
            raise SchemaError(f"schema file {str(p)!r} does not exist")
        return cls.from_json(p.read_text(encoding="utf-8"))

    # -- inference and validation -------------------------------------------------------------------------
    @classmethod
    def infer(cls, df: pd.DataFrame, *, max_categories: int = 1000) -> Schema:
        """Infer a schema from data (NOT private: it reads every value). Rules: :mod:`ehrsynth.inference`."""
        from ehrsynth.inference import infer_schema

        return infer_schema(df, max_categories=max_categories)

    def validate(self, df: pd.DataFrame, *, strict: bool = True) -> None:
        """Check that ``df`` matches this schema; raise :class:`SchemaError` naming the column if not.

        With ``strict=False`` (used after DP discovery) values outside a categorical domain or numeric bounds
        are allowed: the encoder maps them to missing or clips them.
        """
        from ehrsynth.inference import validate_frame

        validate_frame(self, df, strict=strict)

    # -- SDV metadata interop (mapping and rules: ehrsynth/sdv_metadata.py) --------------------------------
    @classmethod
    def from_sdv(cls, metadata: dict[str, Any], data: pd.DataFrame | None = None) -> Schema:
        """A schema from SDV single-table metadata; bounds/categories from ``data`` (NOT private)."""
        from ehrsynth.sdv_metadata import from_sdv

        return from_sdv(metadata, data=data)

    def to_sdv(self) -> dict[str, Any]:
        """SDV single-table metadata (sdtypes only) for this schema."""
        from ehrsynth.sdv_metadata import to_sdv

        return to_sdv(self)
