"""The image evaluation as a :class:`ehrsynth.reporting.Report` and one self-contained HTML page: metrics table,
notes and per-class sample grids of real and synthetic images (inline base64 PNGs written by
:mod:`ehrsynth.imaging.png`; no scripts). Text is escaped by the :mod:`ehrsynth.reporting.html` helpers."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ehrsynth.imaging.loaders import ImageSet
from ehrsynth.imaging.png import encode_png
from ehrsynth.reporting import Report
from ehrsynth.reporting.html import Markup, join, num, page, table, tag

_STYLE = """
.grids{display:flex;flex-wrap:wrap;gap:24px}figcaption{max-width:none}img{image-rendering:pixelated}
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


def _grids(title: str, s: ImageSet, per_class: int, scale: int) -> Markup:
    figures = []
    for value in sorted({str(v) for v in s.labels.tolist()}):
        chosen = s.images[[str(v) == value for v in s.labels.tolist()]][:per_class]
        grid = image_grid(chosen)
        img = tag("img", alt=f"{title} class {value}", width=grid.shape[1] * scale, src=png_data_uri(grid))
        figures.append(tag("figure", img, tag("figcaption", f"{title} — class {value}")))
    return tag("div", *figures, class_="grids")


def _metric_rows(result: Mapping[str, Any]) -> list[tuple[str, Any]]:
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
    return [(name, v) for name, v in rows if v is not None]  # no rows of dashes


def sample_grids(real_train: ImageSet, synthetic: ImageSet, per_class: int = 32) -> Markup:
    """Per-class sample grids of the synthetic and the real training images."""
    scale = max(1, 64 // int(synthetic.images.shape[1]))  # small images are shown enlarged
    return join(
        [
            tag("h2", "Synthetic samples"),
            _grids("synthetic", synthetic, per_class, scale),
            tag("h2", "Real training samples"),
            _grids("real", real_train, per_class, scale),
        ]
    )


def render_html(
    result: Mapping[str, Any], real_train: ImageSet, synthetic: ImageSet, per_class: int = 32
) -> str:
    """The page for an :func:`ehrsynth.imaging.evaluation.evaluate` result with sample grids of both sets."""
    return ImageEvaluationReport.build(result, real_train, synthetic, per_class).to_html()


class ImageEvaluationReport(Report):
    """The image evaluation result (``to_dict``/``save_json``) with its HTML page; ``grids`` is the pre-rendered
    sample-grid HTML (the images themselves are not part of the JSON)."""

    title = "image evaluation"

    def __init__(self, data: Mapping[str, Any], grids: Markup | None = None) -> None:
        super().__init__(data)
        self._grids = grids or Markup("")

    @classmethod
    def build(
        cls, result: Mapping[str, Any], real_train: ImageSet, synthetic: ImageSet, per_class: int = 32
    ) -> ImageEvaluationReport:
        return cls(result, grids=sample_grids(real_train, synthetic, per_class))

    def summary(self) -> dict[str, Any]:
        mem = self._data.get("memorisation") or {}
        return {
            "tstr_auc": self._data.get("tstr_auc"),
            "trtr_auc": self._data.get("trtr_auc"),
            "frechet_distance": self._data.get("frechet_distance"),
            "frechet_distance_real_baseline": self._data.get("frechet_distance_real_baseline"),
            "closer_to_train_share": mem.get("closer_to_train_share"),
            "near_copies": mem.get("near_copies"),
        }

    def to_html(self) -> str:
        r = self._data
        per_class = [(f"class {c}", num(v)) for c, v in (r.get("frechet_distance_per_class") or {}).items()]
        intro = (
            f"{num(r.get('n_synthetic'))} synthetic images; real: {num(r.get('n_real_train'))} train, "
            f"{num(r.get('n_real_test'))} test; classes {r.get('classes')}; AUC: {r.get('auc')}."
        )
        body = join(
            [
                tag("h1", "Synthetic image evaluation"),
                tag("p", intro, class_="note"),
                table(["metric", "value"], [(name, num(v)) for name, v in _metric_rows(r)]),
                join([tag("h2", "Fréchet distance per class"), table(["class", "value"], per_class)])
                if per_class
                else Markup(""),
                *(tag("p", n, class_="note") for n in r.get("notes") or []),
                self._grids,
            ]
        )
        return page("ehrsynth image evaluation", body, style=_STYLE) + "\n"
