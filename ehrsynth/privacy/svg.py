"""Small self-contained SVG charts for the HTML report (no plotting library, no external assets).

Every text that reaches the SVG goes through :func:`html.escape`. The helpers shared with the other reports
(escaping, round ranges, ticks) live in :mod:`ehrsynth.reporting.svg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ehrsynth.reporting.svg import e as _e
from ehrsynth.reporting.svg import fmt_tick as _fmt
from ehrsynth.reporting.svg import nice_range
from ehrsynth.reporting.svg import ticks as _ticks

__all__ = ["histogram_chart", "nice_range", "risk_bars", "roc_chart"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
WIDTH, HEIGHT = 460, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 48


def _frame(title: str, x_label: str, y_label: str, body: list[str], width: int = WIDTH) -> str:
    h = HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" viewBox="0 0 {width} {h}" '
        f'role="img" aria-label="{_e(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{_e(title)}</text>',
        f'<text x="{(LEFT + width - RIGHT) / 2:.1f}" y="{h - 10}" text-anchor="middle">{_e(x_label)}</text>',
        f'<text x="14" y="{(TOP + h - BOTTOM) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + h - BOTTOM) / 2:.1f})">{_e(y_label)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{width - LEFT - RIGHT}" height="{h - TOP - BOTTOM}" fill="none" '
        'stroke="#999"/>',
    ]
    return "\n".join(parts + body + ["</svg>"])


class _Scale:
    def __init__(self, x: tuple[float, float], y: tuple[float, float], width: int = WIDTH) -> None:
        self.x0, self.x1, self.xstep = nice_range(*x)
        self.y0, self.y1, self.ystep = nice_range(*y)
        self.width = width

    def px(self, v: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return LEFT + (v - self.x0) / span * (self.width - LEFT - RIGHT)

    def py(self, v: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return HEIGHT - BOTTOM - (v - self.y0) / span * (HEIGHT - TOP - BOTTOM)

    def axes(self) -> list[str]:
        out = []
        for t in _ticks(self.x0, self.x1, self.xstep):
            out.append(
                f'<text x="{self.px(t):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{_fmt(t)}</text>'
            )
        for t in _ticks(self.y0, self.y1, self.ystep):
            out.append(f'<text x="{LEFT - 4}" y="{self.py(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
        return out


def _legend(labels: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, label in enumerate(labels):
        colour = PALETTE[i % len(PALETTE)]
        yy = y + 14 * i
        out.append(f'<rect x="{x:.1f}" y="{yy - 8:.1f}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14:.1f}" y="{yy:.1f}">{_e(label)}</text>')
    return out


def _thin(x: np.ndarray, y: np.ndarray, max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= max_points:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, max_points).astype(int))
    return x[keep], y[keep]


def roc_chart(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "ROC curves") -> str:
    """ROC curves (FPR, TPR) with the diagonal of guessing."""
    s = _Scale((0.0, 1.0), (0.0, 1.0))
    body = s.axes()
    body.append(
        f'<line x1="{s.px(0):.1f}" y1="{s.py(0):.1f}" x2="{s.px(1):.1f}" y2="{s.py(1):.1f}" stroke="#bbb" '
        'stroke-dasharray="4 3"/>'
    )
    for i, (fpr, tpr) in enumerate(curves.values()):
        fx, ty = _thin(np.asarray(fpr, float), np.asarray(tpr, float))
        pts = " ".join(f"{s.px(a):.1f},{s.py(b):.1f}" for a, b in zip(fx, ty, strict=True))
        body.append(
            f'<polyline points="{pts}" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="2"/>'
        )
    body += _legend(list(curves), s.px(0.55), s.py(0.3))
    return _frame(title, "false-positive rate (holdout records flagged)", "true-positive rate", body)


def histogram_chart(
    edges: Sequence[float], series: dict[str, Sequence[int]], title: str, x_label: str
) -> str:
    """Overlaid histograms as step outlines, normalised to proportions."""
    edges_a = np.asarray(edges, float)
    props = {k: np.asarray(v, float) / max(1.0, float(np.sum(v))) for k, v in series.items()}
    top = max([float(p.max()) for p in props.values() if len(p)] + [1e-9])
    s = _Scale((float(edges_a[0]), float(edges_a[-1])), (0.0, top))
    body = s.axes()
    for i, p in enumerate(props.values()):
        pts = [f"{s.px(edges_a[0]):.1f},{s.py(0):.1f}"]
        for j, v in enumerate(p):
            pts.append(f"{s.px(edges_a[j]):.1f},{s.py(v):.1f}")
            pts.append(f"{s.px(edges_a[j + 1]):.1f},{s.py(v):.1f}")
        pts.append(f"{s.px(edges_a[-1]):.1f},{s.py(0):.1f}")
        colour = PALETTE[i % len(PALETTE)]
        body.append(
            f'<polyline points="{" ".join(pts)}" fill="{colour}" fill-opacity="0.15" stroke="{colour}" '
            'stroke-width="1.5"/>'
        )
    body += _legend(list(series), s.px(float(edges_a[0]) + 0.55 * (edges_a[-1] - edges_a[0])), TOP + 16)
    return _frame(title, x_label, "share of records", body)


LEVEL_COLOURS = {"low": "#2e7d32", "medium": "#ef6c00", "high": "#c62828", "inconclusive": "#757575"}


def risk_bars(bars: Sequence[dict[str, Any]], guidance: float, title: str) -> str:
    """Horizontal bars of excess risk with interval whiskers (clipped to the axis) and the guidance line.

    Each bar is ``{"label", "value", "ci", "level"}``; the colour shows the indicator's verdict level."""
    if not bars:
        return ""
    row = 18
    height = TOP + BOTTOM + row * len(bars)
    label_w = 220
    width = 620
    values = [float(b["value"]) for b in bars]
    cis = [(float(b["ci"][0]), float(b["ci"][1])) for b in bars]
    lo = max(-1.0, min([0.0] + [float(c[0]) for c in cis] + values))
    hi = min(1.0, max([guidance * 1.2] + [float(c[1]) for c in cis] + values))
    lo, hi, step = nice_range(lo, hi)

    def px(v: float) -> float:
        v = min(max(v, lo), hi)
        return label_w + (v - lo) / ((hi - lo) or 1.0) * (width - label_w - RIGHT)

    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_e(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for i, (b, v, ci) in enumerate(zip(bars, values, cis, strict=True)):
        y = TOP + i * row
        colour = LEVEL_COLOURS.get(str(b.get("level", "low")), "#1f77b4")
        x0, x1 = sorted((px(0.0), px(v)))
        body.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_e(b["label"])}</text>')
        body.append(
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(0.5, x1 - x0):.1f}" height="{row - 6}" fill="{colour}"/>'
        )
        body.append(
            f'<line x1="{px(float(ci[0])):.1f}" y1="{y + row / 2:.1f}" x2="{px(float(ci[1])):.1f}" '
            f'y2="{y + row / 2:.1f}" stroke="#333"/>'
        )
    bottom = TOP + row * len(bars)
    body.append(f'<line x1="{px(0):.1f}" y1="{TOP}" x2="{px(0):.1f}" y2="{bottom}" stroke="#999"/>')
    body.append(
        f'<line x1="{px(guidance):.1f}" y1="{TOP}" x2="{px(guidance):.1f}" y2="{bottom}" stroke="#d62728" '
        'stroke-dasharray="4 3"/>'
    )
    body.append(
        f'<text x="{px(guidance) + 3:.1f}" y="{bottom + 14}" fill="#d62728">guidance {guidance:g}</text>'
    )
    for t in _ticks(lo, hi, step):
        body.append(f'<text x="{px(t):.1f}" y="{bottom + 30}" text-anchor="middle">{_fmt(t)}</text>')
    body.append(
        f'<text x="{(label_w + width) / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        "excess risk (attack - control) / (1 - control)</text>"
    )
    body.append("</svg>")
    return "\n".join(body)
