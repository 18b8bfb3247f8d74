"""The :class:`Report` base: a JSON-able dict with HTML rendering and atomic saving."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from typing import Any

from ehrsynth.reporting.jsonable import jsonable


class Report:
    """Base of ehrsynth's reports. Subclasses implement :meth:`to_html` and :meth:`summary`; the data is
    converted with :func:`jsonable` once, so :meth:`to_json` never meets NaN or numpy values.

    ``report["key"]`` reads a top-level value; :meth:`to_dict` returns a deep copy.
    """

    #: what the report is, used in ``repr``
    title = "report"

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data: dict[str, Any] = jsonable(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the report (plain JSON types only: safe to ``json.dumps``)."""
        return copy.deepcopy(self._data)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self._data, indent=indent, allow_nan=False)

    def to_html(self) -> str:
        """A self-contained HTML page (no scripts, no external resources)."""
        raise NotImplementedError(f"{type(self).__name__} has no HTML rendering")

    def summary(self) -> Any:
        """The headline numbers or sentences of the report."""
        raise NotImplementedError(f"{type(self).__name__} has no summary")

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` atomically."""
        from ehrsynth.fsutil.atomic import write_text_atomic

        write_text_atomic(path, self.to_json() + "\n")

    def save_html(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_html` atomically."""
        from ehrsynth.fsutil.atomic import write_text_atomic

        write_text_atomic(path, self.to_html())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Report) and type(other) is type(self) and other._data == self._data

    __hash__ = None  # type: ignore[assignment]  # mutable-looking data: not hashable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._data)} keys)"
