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
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ehrsynth.errors import SchemaError
from ehrsynth.inference import infer_columns, validate_frame
from ehrsynth.kinds import MARGINAL_KEYS_ORDER, Column, Kind, Scalar, _to_python, check_cdf

__all__ = [
    "MARGINAL_KEYS_ORDER",
    "SCHEMA_VERSION",
    "Column",
    "Kind",
    "Scalar",
    "Schema",
    "_to_python",
    "check_cdf",
]

SCHEMA_VERSION = 1


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
        from ehrsynth.fsutil.atomic import write_text_atomic

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
        return cls(infer_columns(df, max_categories=max_categories))

    def validate(self, df: pd.DataFrame, *, strict: bool = True) -> None:
        """Check that ``df`` matches this schema; raise :class:`SchemaError` naming the column if not.

        With ``strict=False`` (used after DP discovery) values outside a categorical domain or numeric bounds
        are allowed: the encoder maps them to missing or clips them.
        """
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
