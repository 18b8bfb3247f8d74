"""Column kinds and the :class:`Column` record: the bottom of the schema layer.

:mod:`ehrsynth.schema` (the :class:`~ehrsynth.schema.Schema` list and its JSON form) and
:mod:`ehrsynth.inference` (rules that type a column from data) both build on this module, which imports
neither of them. Import these names from :mod:`ehrsynth.schema`, which re-exports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from ehrsynth.errors import SchemaError

__all__ = ["Column", "Kind", "Scalar", "_to_python"]


class Kind(str, Enum):
    """How a column is modelled (docs/design.md §2)."""

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
