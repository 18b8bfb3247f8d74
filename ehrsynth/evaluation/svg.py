"""Small hand-written inline SVG charts (no plotting library needed): scatter, heatmap, horizontal bars.

Every piece of text is escaped; values that are ``None`` or not finite are skipped (scatter, bars) or drawn
grey (heatmap). Margins are sized from a conservative estimate of each label's width
(:func:`ehrsynth.reporting.svg.text_width`), so no label is clipped by the edge of its chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

from ehrsynth.reporting.svg import FONT_SIZE, shorten, text_width
from ehrsynth.reporting.svg import e as escape

FONT = f'font-family="sans-serif" font-size="{FONT_SIZE}"'
COS60, SIN60 = 0.5, math.sqrt(3) / 2


def _finite(v: float | None) -> TypeGuard[float]:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def scatter_svg(
    x: Sequence[float | None],
    y: Sequence[float | None],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    labels: Sequence[str] | None = None,
    limits: tuple[float, float] | None = None,
    size: int = 340,
) -> str:
    """A square scatter plot with the y = x diagonal; point tooltips from ``labels``."""
    pts = [
        (float(a), float(b), i)
        for i, (a, b) in enumerate(zip(x, y, strict=True))
        if _finite(a) and _finite(b)
    ]
    if limits is None:
        values = [p[0] for p in pts] + [p[1] for p in pts] or [0.0, 1.0]
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.05 or 0.5
        limits = (lo - pad, hi + pad)
    lo, hi = limits
    tick_labels = [_fmt(lo + (hi - lo) * k / 4) for k in range(5)]
    m = int(22 + max(text_width(t) for t in tick_labels))  # rotated y label (x 6..18) + tick labels
    right = int(4 + text_width(tick_labels[-1]) / 2)  # the last x tick label is centred on the right edge
    w = size - m - right
    xlabel, ylabel = shorten(xlabel, int(w / text_width("x"))), shorten(ylabel, int(w / text_width("x")))

    def px(v: float) -> float:
        return m + (v - lo) / (hi - lo) * w

    def py(v: float) -> float:
        return 12 + w - (v - lo) / (hi - lo) * w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{m + w + right}" height="{12 + w + 36}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{m}" y="12" width="{w}" height="{w}" fill="#fafafa" stroke="#999"/>',
        f'<line x1="{px(lo)}" y1="{py(lo)}" x2="{px(hi)}" y2="{py(hi)}" stroke="#bbb" '
        'stroke-dasharray="4 3"/>',
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(f'<text x="{px(v):.1f}" y="{12 + w + 14}" text-anchor="middle" {FONT}>{_fmt(v)}</text>')
        parts.append(f'<text x="{m - 4}" y="{py(v) + 4:.1f}" text-anchor="end" {FONT}>{_fmt(v)}</text>')
    for a, b, i in pts:
        tip = escape(labels[i]) if labels is not None else ""
        tip += f" ({_fmt(a)}, {_fmt(b)})"
        parts.append(
            f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="#1f77b4" fill-opacity="0.6">'
            f"<title>{tip.strip()}</title></circle>"
        )
    parts.append(
        f'<text x="{m + w / 2}" y="{12 + w + 30}" text-anchor="middle" {FONT}>{escape(xlabel)}</text>'
    )
    parts.append(
        f'<text x="12" y="{12 + w / 2}" text-anchor="middle" transform="rotate(-90 12 {12 + w / 2})" {FONT}>'
        f"{escape(ylabel)}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _diverging(v: float, vmax: float) -> str:
    t = max(-1.0, min(1.0, v / vmax)) if vmax > 0 else 0.0
    if t >= 0:
        r, g, b = 255, int(255 * (1 - t)), int(255 * (1 - t))
    else:
        r, g, b = int(255 * (1 + t)), int(255 * (1 + t)), 255
    return f"rgb({r},{g},{b})"


def heatmap_svg(
    matrix: Sequence[Sequence[float | None]], labels: Sequence[str], *, title: str, cell: int = 14
) -> str:
    """A diverging heatmap (blue negative, red positive) scaled to the largest absolute value."""
    n = len(labels)
    values = [abs(float(v)) for row in matrix for v in row if _finite(v)]
    vmax = max(values) if values else 1.0
    short = [shorten(name) for name in labels]
    longest = max((text_width(s) for s in short), default=0.0)
    left = int(8 + longest)
    top = int(8 + SIN60 * longest + FONT_SIZE)  # column labels rotated by -60 degrees rise above the grid
    legend = f"colour scale: ±{_fmt(vmax)} (red: real > synthetic)"
    # the last column label leans right by cos(60°) of its length
    size_w = int(max(left + n * cell + COS60 * longest + 8, left + text_width(legend) + 8))
    size_h = top + n * cell + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_w}" height="{size_h}" role="img">',
        f"<title>{escape(title)}</title>",
    ]
    for i, name in enumerate(short):
        y = top + i * cell + cell * 0.75
        parts.append(f'<text x="{left - 4}" y="{y:.1f}" text-anchor="end" {FONT}>{escape(name)}</text>')
        x = left + i * cell + cell * 0.5
        parts.append(
            f'<text x="{x:.1f}" y="{top - 4}" transform="rotate(-60 {x:.1f} {top - 4})" {FONT}>'
            f"{escape(name)}</text>"
        )
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            fill = _diverging(float(v), vmax) if _finite(v) else "#ccc"
            tip = f"{escape(labels[i])} × {escape(labels[j])}: " + (_fmt(float(v)) if _finite(v) else "n/a")
            parts.append(
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                f'fill="{fill}">'
                f"<title>{tip}</title></rect>"
            )
    parts.append(f'<text x="{left}" y="{size_h - 6}" {FONT}>{escape(legend)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_svg(names: Sequence[str], values: Sequence[float | None], *, title: str, vmax: float = 1.0) -> str:
    """Horizontal bars, one per name, scaled to ``vmax``."""
    rows = [(shorten(n), float(v)) for n, v in zip(names, values, strict=True) if _finite(v)]
    left = int(8 + max((text_width(n) for n, _ in rows), default=0.0))
    right = int(8 + max((text_width(_fmt(v)) for _, v in rows), default=0.0))
    width, bar_h = 260, 14
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + right}" '
        f'height="{len(rows) * (bar_h + 4) + 8}" role="img">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (name, v) in enumerate(rows):
        y = 4 + i * (bar_h + 4)
        w = max(0.0, min(1.0, v / vmax if vmax > 0 else 0.0)) * width
        parts.append(f'<text x="{left - 4}" y="{y + 11}" text-anchor="end" {FONT}>{escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#ff7f0e"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 11}" {FONT}>{_fmt(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)
