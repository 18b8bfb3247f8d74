"""Comparing two column sets and saying how they differ, in one wording (stdlib only).

Used wherever a table must have the columns of another table or of a schema (the privacy audit's three
tables, the evaluation's tables, a schema against the tables); the error classes and the fix suggested stay
with each caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def preview(names: Sequence[str], limit: int = 10) -> str:
    """``'a', 'b' and 3 more``: the first ``limit`` names, quoted."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def column_difference(expected: Iterable[str], found: Iterable[str]) -> tuple[list[str], list[str]]:
    """(``expected`` names absent from ``found``, ``found`` names absent from ``expected``), each in its order."""
    expected, found = list(expected), list(found)
    have, want = set(found), set(expected)
    return [n for n in expected if n not in have], [n for n in found if n not in want]


def describe_difference(
    missing: Sequence[str], extra: Sequence[str], *, missing_label: str, extra_label: str
) -> str:
    """``"<missing_label>: 'a', 'b'; <extra_label>: 'c'"``; a label may use ``{n}`` for the number of names."""
    parts = []
    if missing:
        parts.append(f"{missing_label.format(n=len(missing))}: {preview(missing)}")
    if extra:
        parts.append(f"{extra_label.format(n=len(extra))}: {preview(extra)}")
    return "; ".join(parts)
