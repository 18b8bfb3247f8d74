"""HTML building blocks that escape by default.

Plain ``str`` is text and is escaped wherever it lands; :class:`Markup` is HTML these helpers built (or that a
caller vouches for) and is inserted as is. So a column name like ``<script>`` can only ever appear escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

BASE_STYLE = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}figure{margin:0}figcaption{font-size:12px;color:#555;max-width:360px}
.note{color:#555;font-size:13px}.bad{color:#b71c1c;font-weight:bold}.good{color:#1b5e20}
.plots{display:flex;flex-wrap:wrap;gap:24px}
"""
DASH = "—"


class Markup(str):
    """A string that is already HTML: inserted without escaping."""

    __slots__ = ()


def esc(value: Any) -> Markup:
    """``value`` as HTML: :class:`Markup` unchanged, anything else converted to text and escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def tag(name: str, *children: Any, **attrs: Any) -> Markup:
    """``<name attrs>children</name>``; text children and attribute values are escaped. ``class_`` → class."""
    attr = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None
    )
    return Markup(f"<{name}{attr}>{join(children)}</{name}>")


def num(value: Any, digits: int = 3) -> Markup:
    """A number for a table cell: ``—`` for None, booleans and non-finite values."""
    if value is None or isinstance(value, bool):
        return Markup(DASH)
    if isinstance(value, float):
        return Markup(f"{value:.{digits}f}") if math.isfinite(value) else Markup(DASH)
    if isinstance(value, int):
        return Markup(str(value))
    return esc(value)


def table(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    row_classes: Sequence[str | None] = (),
    class_: str | None = None,
) -> Markup:
    """A table; text cells are escaped, :class:`Markup` cells inserted as they are."""
    head = tag("tr", *(tag("th", h) for h in header))
    classes = list(row_classes)
    body = [
        tag("tr", *(tag("td", cell) for cell in row), class_=classes[i] if i < len(classes) else None)
        for i, row in enumerate(rows)
    ]
    return tag("table", head, *body, class_=class_)


def figure(svg: Markup, caption: Any) -> Markup:
    return tag("figure", svg, tag("figcaption", caption))


def page(title: Any, body: Any, *, style: str = "") -> str:
    """A whole self-contained page (inline style, no scripts, no external resources)."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{BASE_STYLE}{style}</style></head><body>{esc(body)}</body></html>"
    )
