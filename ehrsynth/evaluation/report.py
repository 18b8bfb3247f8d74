"""The result of :func:`ehrsynth.evaluation.evaluate`: a JSON-able dict with HTML rendering."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays → Python, NaN/inf → None, tuples → lists, keys → str."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


@dataclass(frozen=True)
class EvaluationReport:
    """Utility metrics of one synthetic table. ``report["pairwise"]["correlation_mae"]`` reads a value."""

    metrics: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", jsonable(self.metrics))

    def __getitem__(self, key: str) -> Any:
        return self.metrics[key]

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the metrics (plain JSON types only: safe to ``json.dumps``)."""
        return copy.deepcopy(self.metrics)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.metrics, indent=indent, allow_nan=False)

    def summary(self) -> dict[str, float | None]:
        """The headline numbers (synthetic side), flat, for logs and tables."""
        m = self.metrics
        prob = m.get("dimension_wise_probability") or {}
        pred = m.get("dimension_wise_prediction") or {}
        pair = m.get("pairwise") or {}
        marg = m.get("marginals") or {}
        tstr = m.get("tstr") or {}
        return {
            "probability_pearson_r": prob.get("pearson_r"),
            "probability_rmse": prob.get("rmse"),
            "prediction_auroc_real": pred.get("auroc_real"),
            "prediction_auroc_synthetic": pred.get("auroc_synthetic"),
            "pairwise_correlation_mae": pair.get("correlation_mae"),
            "tvd_mean": marg.get("tvd_mean"),
            "ks_mean": marg.get("ks_mean"),
            "tstr_auroc_real": tstr.get("auroc_real"),
            "tstr_auroc_synthetic": tstr.get("auroc_synthetic"),
            "sdmetrics_quality": m.get("sdmetrics_quality"),
        }

    def to_html(self) -> str:
        """A self-contained HTML page (inline SVG plots, no scripts, no external resources)."""
        from ehrsynth.evaluation.html import render_html

        return render_html(self.metrics)
