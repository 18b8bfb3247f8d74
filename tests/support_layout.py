"""Layout check for the hand-written SVG charts: every <text> must lie inside its <svg> (no clipped labels).

Text extents are estimated with a deliberately wide glyph advance (0.62 em, DejaVu Sans); rotated labels are
rotated about their anchor as the ``transform="rotate(a x y)"`` attribute says."""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

EM = 0.62
NS = "{http://www.w3.org/2000/svg}"


def _font_size(el: ElementTree.Element, default: float) -> float:
    return float(el.get("font-size", default))


def text_boxes(svg: str) -> tuple[float, float, list[tuple[str, float, float, float, float]]]:
    """(width, height, [(text, x0, y0, x1, y1)]) of an SVG string."""
    root = ElementTree.fromstring(svg)
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    default = _font_size(root, 11.0)
    boxes = []
    for el in root.iter(f"{NS}text"):
        text = "".join(el.itertext())
        size = _font_size(el, default)
        x, y = float(el.get("x", 0)), float(el.get("y", 0))
        w = len(text) * size * EM
        anchor = el.get("text-anchor", "start")
        start = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
        corners = [
            (start, y - 0.8 * size),
            (start + w, y - 0.8 * size),
            (start, y + 0.2 * size),
            (start + w, y + 0.2 * size),
        ]
        rot = re.match(r"rotate\(([-\d.]+) ([-\d.]+) ([-\d.]+)\)", el.get("transform", ""))
        if rot:
            a, cx, cy = (float(v) for v in rot.groups())
            c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
            corners = [
                (cx + (px - cx) * c - (py - cy) * s, cy + (px - cx) * s + (py - cy) * c) for px, py in corners
            ]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        boxes.append((text, min(xs), min(ys), max(xs), max(ys)))
    return width, height, boxes


def clipped_labels(svg: str, tolerance: float = 1.0) -> list[str]:
    """The texts of ``svg`` that reach outside its width × height."""
    width, height, boxes = text_boxes(svg)
    return [
        t
        for t, x0, y0, x1, y1 in boxes
        if x0 < -tolerance or y0 < -tolerance or x1 > width + tolerance or y1 > height + tolerance
    ]
