"""Reading the declared kinds of a ``schema.json``: the one reader the privacy audit and the evaluation share.

Both only need each column's ``name`` and ``kind`` (reading a declared schema spends no privacy budget), so
they do not build a full :class:`ehrsynth.schema.Schema` (whose checks want bounds and categories that an
auditor does not use). A schema may be given as a path to a ``.json`` file, as the parsed JSON object, or as
any object with ``to_dict()`` returning it (a :class:`~ehrsynth.schema.Schema`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ehrsynth.errors import SchemaError, UnsupportedFileError
from ehrsynth.kinds import Kind

__all__ = ["KIND_NAMES", "SchemaLike", "SupportsToDict", "declared_kinds", "read_schema_object"]

#: The kinds a schema may declare, in :class:`~ehrsynth.kinds.Kind` order.
KIND_NAMES: tuple[str, ...] = tuple(k.value for k in Kind)


class SupportsToDict(Protocol):
    """Anything with ``to_dict()`` returning the schema JSON object (e.g. :class:`ehrsynth.schema.Schema`)."""

    def to_dict(self) -> dict[str, Any]: ...


SchemaLike = str | os.PathLike[str] | Mapping[str, Any] | SupportsToDict


def read_schema_object(schema: SchemaLike) -> Any:
    """The schema's JSON object (not yet checked) from a path, a mapping or an object with ``to_dict()``."""
    if isinstance(schema, Mapping):
        return dict(schema)
    if isinstance(schema, (str, os.PathLike)):
        path = Path(schema)
        if not path.name.lower().endswith(".json"):
            raise UnsupportedFileError(
                f"schema file {str(path)!r} must be a .json file (a schema JSON object)"
            )
        if not path.is_file():
            raise SchemaError(f"schema file {str(path)!r} does not exist")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaError(f"schema file {str(path)!r} is not valid JSON: {exc}") from exc
    to_dict = getattr(schema, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise SchemaError(
        f"schema must be a path to a JSON file, a dict or an object with to_dict(); found {type(schema).__name__}"
    )


def declared_kinds(schema: SchemaLike) -> dict[str, str]:
    """``{name: kind}`` in schema order, each kind one of :data:`KIND_NAMES`; each column listed once."""
    data = read_schema_object(schema)
    if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list):
        raise SchemaError("a schema is a JSON object with a 'columns' list of {'name', 'kind'} objects")
    kinds: dict[str, str] = {}
    for entry in data["columns"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or "kind" not in entry:
            raise SchemaError(f"each schema column needs a string 'name' and a 'kind', found {entry!r}")
        name, kind = entry["name"], entry["kind"]
        if kind not in KIND_NAMES:
            raise SchemaError(
                f"schema column {name!r} has unknown kind {kind!r}; allowed: {', '.join(KIND_NAMES)}",
                column=name,
            )
        if name in kinds:
            raise SchemaError(f"schema lists column {name!r} twice; list each column once", column=name)
        kinds[name] = kind
    return kinds
