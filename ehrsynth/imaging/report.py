"""The image evaluation as one self-contained HTML page: metrics table, notes and per-class sample grids of
real and synthetic images (inline base64 PNGs written by :mod:`ehrsynth.imaging.png`; no scripts). Every string
from the data or the user goes through :func:`html.escape`."""

from __future__ import annotations

import base64
import math
from html import escape
from typing import Any

import numpy as np

from ehrsynth.imaging.loaders import ImageSet
from ehrsynth.imaging.png import encode_png

_STYLE = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.grids{display:flex;flex-wrap:wrap;gap:24px}
figure{margin:0}figcaption{font-size:12px;color:#555}.note{color:#555;font-size:13px}
img{image-rendering:pixelated}
"""


def image_grid(images: np.ndarray, columns: int = 8, pad: int = 2) -> np.ndarray:
    """Tile uint8 (N, H, W[, C]) images into one (rows·(H+pad), columns·(W+pad)[, C]) image (white gaps)."""
    imgs = images if images.ndim == 4 else images[..., None]
    n, h, w, c = imgs.shape
    rows = max(1, math.ceil(n / columns))
    cols = min(columns, max(n, 1))
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = (
            imgs[i]
        )
    return out[..., 0] if c == 1 else out


def png_data_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode("ascii")


def _num(v: Any) -> str:
    if v is None or isinstance(v, bool):
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if math.isfinite(v) else escape(str(v))
    return escape(str(v))


def _grids(title: str, s: ImageSet, per_class: int, scale: int) -> str:
    figures = []
    for value in sorted({str(v) for v in s.labels.tolist()}):
        chosen = s.images[[str(v) == value for v in s.labels.tolist()]][:per_class]
        grid = image_grid(chosen)
        width = grid.shape[1] * scale
        figures.append(
            f'<figure><img alt="{escape(title)} class {escape(value)}" width="{width}" src="{png_data_uri(grid)}">'
            f"<figcaption>{escape(title)} — class {escape(value)}</figcaption></figure>"
        )
    return f'<div class="grids">{"".join(figures)}</div>'


def render_html(
    result: dict[str, Any], real_train: ImageSet, synthetic: ImageSet, per_class: int = 32
) -> str:
    mem = result.get("memorisation") or {}
    rows = [
        ("TSTR AUC (train synthetic, test real)", result.get("tstr_auc")),
        ("TRTR AUC (train real, test real)", result.get("trtr_auc")),
        ("Fréchet distance (CNN features), synthetic vs real test", result.get("frechet_distance")),
        (
            "Fréchet distance, real train subset vs real test (baseline)",
            result.get("frechet_distance_real_baseline"),
        ),
        (
            "Memorisation: share closer to train than to test (≈0.5 expected)",
            mem.get("closer_to_train_share"),
        ),
        ("Memorisation: near copies (closer than any real test image)", mem.get("near_copies")),
        ("Memorisation: share below the test 5th-percentile distance", mem.get("below_test_p05")),
    ]
    table = "".join(f"<tr><td>{escape(name)}</td><td>{_num(v)}</td></tr>" for name, v in rows)
    per_class_fd = "".join(
        f"<tr><td>class {escape(str(c))}</td><td>{_num(v)}</td></tr>"
        for c, v in (result.get("frechet_distance_per_class") or {}).items()
    )
    notes = "".join(f'<p class="note">{escape(str(n))}</p>' for n in result.get("notes") or [])
    scale = max(1, 64 // int(synthetic.images.shape[1]))  # small images are shown enlarged
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>ehrsynth image evaluation</title><style>{_STYLE}</style></head><body>"
        "<h1>Synthetic image evaluation</h1>"
        f'<p class="note">{_num(result.get("n_synthetic"))} synthetic images; real: '
        f"{_num(result.get('n_real_train'))} train, {_num(result.get('n_real_test'))} test; classes "
        f"{escape(str(result.get('classes')))}; AUC: {escape(str(result.get('auc')))}.</p>"
        f"<table><tr><th>metric</th><th>value</th></tr>{table}</table>"
        + (f"<h2>Fréchet distance per class</h2><table>{per_class_fd}</table>" if per_class_fd else "")
        + notes
        + "<h2>Synthetic samples</h2>"
        + _grids("synthetic", synthetic, per_class, scale)
        + "<h2>Real training samples</h2>"
        + _grids("real", real_train, per_class, scale)
        + "</body></html>\n"
    )
