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
)


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
    knots: list[float] | None = None
    cdf: list[float] | None = None
    frequencies: list[float] | None = None
    missing_rate: float | None = None
    other: Scalar | None = None  # the category that stands for every value not listed (DP-merged rare values)

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


@dataclass
class Schema:
    """An ordered list of columns. Build with :meth:`infer`, :meth:`from_dict` or :meth:`load`."""

    columns: list[Column] = field(default_factory=list)
    data_derived: bool = False  # values/bounds were read from the data (``ehrsynth schema --with-values``)

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
        return Schema([column if c.name == column.name else c for c in self.columns], self.data_derived)

    def without(self, names: Sequence[str]) -> Schema:
        drop = set(names)
        return Schema([replace(c) for c in self.columns if c.name not in drop], self.data_derived)

    # -- JSON -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": SCHEMA_VERSION}
        if self.data_derived:
            out["data_derived"] = True
        out["columns"] = [c.to_dict() for c in self.columns]
        return out

    @property
    def complete(self) -> bool:
        """Whether every modelled column declares its domain (no discovery needed)."""
        return all(c.has_domain for c in self.modelled)

    def kinds_only(self) -> Schema:
        """The schema without anything read from the values: names, kinds, dtypes (safe to publish)."""
        return Schema([c.kinds_only() for c in self.columns])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise SchemaError("a schema is a JSON object with a 'columns' list")
        if data.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise SchemaError(
                f"schema version {data.get('version')!r} is not supported; this ehrsynth reads version "
                f"{SCHEMA_VERSION}"
            )
        return cls(
            [Column.from_dict(c) for c in data["columns"]], data_derived=bool(data.get("data_derived"))
        )

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
