"""Utility evaluation of synthetic tables (docs/design.md §6): what is the synthetic data good for?

- :func:`evaluate` — dimension-wise probability, average count and prediction (medGAN protocol), pairwise
  correlation / co-occurrence error, marginal distances (TVD, KS), TSTR on a target, the SDMetrics quality
  score when installed, with the independent-marginals floor and real-holdout reference beside each number.
- :class:`EvaluationReport` — ``to_dict()`` (JSON-able), ``to_json()``, ``to_html()`` (self-contained).
- :func:`independent_marginals`, :func:`column_shuffled` — reference tables built from train.
- :func:`column_fidelity`, :func:`workload_error`, :func:`workload_floor` — the per-column fidelity table and
  the AIM/GEM workload error (all 2-way, sampled 3-way marginals) with its independent floor.

Needs numpy, pandas, scipy and scikit-learn only (no torch).
"""

from __future__ import annotations

from ehrsynth.evaluation.baselines import column_shuffled, independent_marginals
from ehrsynth.evaluation.columns import ColumnPlan, infer_kinds, schema_kinds
from ehrsynth.evaluation.core import evaluate
from ehrsynth.evaluation.report import EvaluationReport
from ehrsynth.evaluation.workload import column_fidelity, workload_error, workload_floor

__all__ = [
    "ColumnPlan",
    "EvaluationReport",
    "column_fidelity",
    "column_shuffled",
    "evaluate",
    "independent_marginals",
    "infer_kinds",
    "schema_kinds",
    "workload_error",
    "workload_floor",
]
