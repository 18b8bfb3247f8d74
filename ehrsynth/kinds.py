"""Column kinds and the :class:`Column` record: the bottom of the schema layer.

:mod:`ehrsynth.schema` (the :class:`~ehrsynth.schema.Schema` list and its JSON form) and
:mod:`ehrsynth.inference` (rules that type a column from data) both build on this module, which imports
neither of them. Import these names from :mod:`ehrsynth.schema`, which re-exports them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from ehrsynth.errors import SchemaError

__all__ = ["MARGINAL_KEYS_ORDER", "TIME_OF_DAY_CELLS", "Column", "Kind", "Scalar", "_to_python", "check_cdf"]


#: cells of a released time of day: exactly midnight, then the 24 hours
TIME_OF_DAY_CELLS = 25

MARGINAL_KEYS_ORDER = (
    "categories",
    "lower",
    "upper",
    "decimals",
    "dtype",
    "time_unit",
    "knots",
    "cdf",
    "frequencies",
    "missing_rate",
    "other",
    "time_of_day",
)


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


def check_cdf(name: str, knots: Sequence[float], cdf: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Validated float arrays of a column's released CDF (raises :class:`SchemaError` naming the column)."""
    x = np.asarray(knots, dtype=np.float64)
    f = np.asarray(cdf, dtype=np.float64)
    if x.ndim != 1 or f.shape != x.shape or len(x) < 2:
        raise SchemaError(
            f"column {name!r}: 'knots' and 'cdf' must be lists of the same length >= 2", column=name
        )
    if not (np.isfinite(x).all() and np.isfinite(f).all()) or not (np.diff(x) > 0).all():
        raise SchemaError(f"column {name!r}: 'knots' must be strictly increasing finite numbers", column=name)
    if (np.diff(f) < -1e-12).any() or abs(f[0]) > 1e-9 or abs(f[-1] - 1.0) > 1e-6:
        raise SchemaError(
            f"column {name!r}: 'cdf' must rise from 0 at the first knot to 1 at the last", column=name
        )
    return x, np.clip(np.maximum.accumulate(f), 0.0, 1.0)


@dataclass
class Column:
    """One column of a schema.

    ``lower``/``upper`` bound count, continuous and datetime columns (datetime bounds are days since
    1970-01-01). ``decimals`` rounds decoded continuous values (``None``: no rounding). ``categories`` is the
    domain of a categorical column. ``dtype`` is the pandas dtype to restore on output. ``time_unit`` is
    ``"D"`` (dates) or ``"s"`` (timestamps) for datetime columns. ``time_of_day`` (DP releases only): the
    released distribution of the time within a day of a date modelled in whole days — ``TIME_OF_DAY_CELLS``
    shares, the first for exactly midnight (a date without a time), then one per hour — which sampling draws
    the times from (:mod:`ehrsynth.transforms.times`); on a date gap column (any modelled kind: a gap of a few
    whole days may be released as categories), of the date it rebuilds.
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
    knots: list[float] | None = None
    cdf: list[float] | None = None
    frequencies: list[float] | None = None
    missing_rate: float | None = None
    other: Scalar | None = None  # the category that stands for every value not listed (DP-merged rare values)
    time_of_day: list[float] | None = None

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
        # A column may declare its kind only (no categories / bounds): its domain is then discovered from the
        # data at fit time (under DP by a DP release). ``has_domain`` says whether it is complete.
        if self.kind is Kind.CATEGORICAL and self.categories is not None:
            if not self.categories:
                raise SchemaError(
                    f"categorical column {name!r} has an empty 'categories' list; list its values or leave "
                    "'categories' out to have them discovered",
                    column=name,
                )
            if len(set(map(repr, self.categories))) != len(self.categories):
                raise SchemaError(f"categorical column {name!r} lists a category twice", column=name)
        if self.kind in (Kind.COUNT, Kind.CONTINUOUS, Kind.DATETIME) and (
            self.lower is not None or self.upper is not None
        ):
            if self.lower is None or self.upper is None:
                raise SchemaError(
                    f"{self.kind.value} column {name!r} needs both 'lower' and 'upper' bounds (or neither, to "
                    "have them discovered)",
                    column=name,
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
        self._check_marginal()

    def _check_marginal(self) -> None:
        """The released 1-way marginal, when present: a CDF for numbers, frequencies for the rest."""
        name = self.name
        if (self.knots is None) != (self.cdf is None):
            raise SchemaError(f"column {name!r}: give 'knots' and 'cdf' together", column=name)
        if self.knots is not None:
            if self.kind not in (Kind.COUNT, Kind.CONTINUOUS, Kind.DATETIME):
                raise SchemaError(f"column {name!r}: only numeric columns take 'knots'/'cdf'", column=name)
            check_cdf(name, self.knots, self.cdf or [])
        if self.frequencies is not None:
            expected = len(self.categories or []) if self.kind is Kind.CATEGORICAL else 1
            freq = self.frequencies
            if self.kind not in (Kind.CATEGORICAL, Kind.BINARY) or len(freq) != expected:
                raise SchemaError(
                    f"column {name!r}: 'frequencies' needs one value per category (binary: one, the share of "
                    f"1s), found {len(freq)}",
                    column=name,
                )
            if any(not (0.0 <= float(v) <= 1.0) for v in freq):
                raise SchemaError(f"column {name!r}: 'frequencies' must lie in [0, 1]", column=name)
        if self.other is not None and self.other not in (self.categories or []):
            raise SchemaError(f"column {name!r}: 'other' must be one of its categories", column=name)
        if self.time_of_day is not None:
            tod = self.time_of_day
            if (
                self.kind is Kind.IDENTIFIER
                or len(tod) != TIME_OF_DAY_CELLS
                or any(not (0.0 <= float(v) <= 1.0) for v in tod)
                or abs(sum(float(v) for v in tod) - 1.0) > 1e-6
            ):
                raise SchemaError(
                    f"column {name!r}: 'time_of_day' needs {TIME_OF_DAY_CELLS} shares in [0, 1] summing to 1 "
                    "(midnight, then one per hour) on a modelled date or date-gap column",
                    column=name,
                )
        if self.missing_rate is not None and not 0.0 <= float(self.missing_rate) <= 1.0:
            raise SchemaError(f"column {name!r}: 'missing_rate' must lie in [0, 1]", column=name)

    @property
    def modelled(self) -> bool:
        return self.kind is not Kind.IDENTIFIER

    @property
    def has_domain(self) -> bool:
        """Whether the column's values are declared (categories for categoricals, bounds for numbers)."""
        if self.kind is Kind.CATEGORICAL:
            return bool(self.categories)
        if self.kind in (Kind.COUNT, Kind.CONTINUOUS, Kind.DATETIME):
            return self.lower is not None and self.upper is not None
        return True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind.value, "nullable": self.nullable}
        for key in MARGINAL_KEYS_ORDER:
            value = getattr(self, key)
            if value is not None:
                out[key] = [_to_python(v) for v in value] if isinstance(value, list) else _to_python(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Column:
        if not isinstance(data, dict) or "name" not in data or "kind" not in data:
            raise SchemaError(f"each schema column needs 'name' and 'kind', found {data!r}")
        known = {"name", "kind", "nullable", *MARGINAL_KEYS_ORDER}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(
                f"column {data['name']!r} has unknown keys {sorted(unknown)}; allowed: {sorted(known)}",
                column=str(data["name"]),
            )
        kwargs = dict(data)
        for key in ("lower", "upper", "missing_rate"):
            if kwargs.get(key) is not None:
                kwargs[key] = float(kwargs[key])
        return cls(**kwargs)

    @property
    def has_marginal(self) -> bool:
        """Whether the column carries a released (or exact) 1-way marginal."""
        numeric = self.kind in (Kind.COUNT, Kind.CONTINUOUS, Kind.DATETIME)
        return (self.knots is not None) if numeric else (self.frequencies is not None)

    def kinds_only(self) -> Column:
        """This column without anything read from the values (domain, bounds, marginal): kind, dtype, name."""
        return Column(self.name, self.kind, dtype=self.dtype, time_unit=self.time_unit)
