"""Utility evaluation of synthetic tables (docs/design.md §6): what is the synthetic data good for?

- :func:`evaluate` — dimension-wise probability, average count and prediction (medGAN protocol), pairwise
  correlation / co-occurrence error, marginal distances (TVD, KS), TSTR on a target, the SDMetrics quality
  score when installed, with the independent-marginals floor and real-holdout reference beside each number.
- :class:`EvaluationReport` — ``to_dict()`` (JSON-able), ``to_json()``, ``to_html()`` (self-contained).
- :func:`independent_marginals`, :func:`column_shuffled` — reference tables built from train.

Needs numpy, pandas, scipy and scikit-learn only (no torch).
"""

from __future__ import annotations

from ehrsynth.evaluation.baselines import column_shuffled, independent_marginals
from ehrsynth.evaluation.columns import ColumnPlan, infer_kinds, schema_kinds
from ehrsynth.evaluation.core import evaluate
from ehrsynth.evaluation.report import EvaluationReport

__all__ = [
    "ColumnPlan",
    "EvaluationReport",
    "column_shuffled",
    "evaluate",
    "independent_marginals",
    "infer_kinds",
    "schema_kinds",
]
