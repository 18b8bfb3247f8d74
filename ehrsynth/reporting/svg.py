"""Shared pieces of the hand-written inline SVG charts: escaping, round axis ranges and ticks, and a
conservative text-width estimate used to size margins so labels are never clipped."""

from __future__ import annotations

import html
import math

FONT_SIZE = 11
#: average advance of a sans-serif glyph in em; wide enough for DejaVu Sans (the widest common default)
EM_PER_CHAR = 0.62


def e(text: object) -> str:
    """Text escaped for SVG/XML content and attribute values."""
    return html.escape(str(text), quote=True)


def text_width(text: str, font_size: float = FONT_SIZE) -> float:
    """A conservative estimate of the rendered width of ``text`` in pixels."""
    return len(text) * font_size * EM_PER_CHAR


def shorten(text: str, limit: int = 36) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_range(lo: float, hi: float, n: int = 4) -> tuple[float, float, float]:
    """(lo, hi, step) widened to multiples of a round step (1, 2, 2.5 or 5 times a power of ten)."""
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def ticks(lo: float, hi: float, step: float | None = None) -> list[float]:
    if step is None:
        lo, hi, step = nice_range(lo, hi)
    count = round((hi - lo) / step)
    return [lo + i * step for i in range(count + 1)]


def fmt_tick(v: float) -> str:
    v = round(v, 10)
    return f"{v:.0f}" if float(v).is_integer() else f"{v:g}"
