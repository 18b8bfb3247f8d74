"""``evaluate(train, test, synthetic)``: every utility metric of one synthetic table, in one JSON-able dict.

``train`` is the real table the synthesizer was fitted on, ``test`` a real holdout it never saw, ``synthetic``
its output. Column kinds are read from ``schema`` or inferred from ``train`` (:mod:`.columns`); every model
uses one design matrix fitted on ``train`` (:mod:`.encoding`). Beside each synthetic number the report puts
the same number for two references (``baselines=True``): the **independent-marginals floor** (a table drawn
column by column from train: right marginals, no dependence) and the **real holdout** scored as if it were
synthetic (the sampling-noise level a perfect generator would reach); the model trained on real data is the
ceiling of dimension-wise prediction and TSTR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ehrsynth._version import __version__
from ehrsynth.errors import InvalidParameterError
from ehrsynth.evaluation.baselines import RandomState, as_generator, independent_marginals
from ehrsynth.evaluation.columns import (
    ColumnPlan,
    SchemaLike,
    check_frame,
    check_same_columns,
    plan_columns,
)
from ehrsynth.evaluation.encoding import Encoder
from ehrsynth.evaluation.marginals import (
    dimension_wise_count,
    dimension_wise_probability,
    marginal_distances,
    prevalence,
)
from ehrsynth.evaluation.pairwise import pairwise_metrics
from ehrsynth.evaluation.prediction import Design, score_codes, summarise, summarise_baseline
from ehrsynth.evaluation.prepare import Prepared, prepare
from ehrsynth.evaluation.report import EvaluationReport
from ehrsynth.evaluation.sdmetrics_quality import sdmetrics_quality
from ehrsynth.evaluation.tstr import TargetTask, check_target_name, make_task, run_tstr, tstr_section
from ehrsynth.stopwatch import Stopwatch

logger = logging.getLogger(__name__)

REPORT_KIND = "ehrsynth.evaluation"
REPORT_VERSION = 1
BASELINE_NOTE = (
    "independent_marginals: a table of len(synthetic) rows drawn column by column from train (the floor: "
    "right marginals, no dependence); holdout: the real test table scored as if it were synthetic (the "
    "sampling-noise level of a perfect generator of len(test) rows)."
)


def _check_params(top_k: Any, n_jobs: Any, target: Any, baselines: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InvalidParameterError(f"top_k must be a positive integer (default 100), found {top_k!r}")
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0
    ):
        raise InvalidParameterError(
            f"n_jobs must be None, a positive integer or -1 (all cores), found {n_jobs!r}"
        )
    if target is not None and (not isinstance(target, str) or not target):
        raise InvalidParameterError(
            f"target must be a column name (a non-empty string) or None, found {target!r}"
        )
    if not isinstance(baselines, bool):
        raise InvalidParameterError(f"baselines must be True or False, found {baselines!r}")


def _top_codes(plan: ColumnPlan, prev: np.ndarray, top_k: int) -> list[int]:
    """Indices of the ``top_k`` most prevalent binary codes in train (ties: table order)."""
    order = sorted(range(len(plan.binary)), key=lambda j: (-np.nan_to_num(prev[j], nan=-1.0), j))
    return order[:top_k]


def _baselines(
    train: pd.DataFrame,
    n_synthetic: int,
    plan: ColumnPlan,
    encoder: Encoder,
    real: tuple[Prepared, Any],
    test: tuple[Prepared, Any],
    designs: tuple[Design, Design],
    top_idx: list[int],
    task: TargetTask | None,
    rng: np.random.Generator,
    seed: int,
    n_jobs: int | None,
) -> dict[str, Any]:
    p_train, x_train = real
    p_test, x_test = test
    top_codes = [plan.binary[j] for j in top_idx]
    floor_df = independent_marginals(train[list(plan.kinds)], n_synthetic, random_state=rng)
    p_floor = prepare(floor_df, plan, "independent-marginals baseline")
    x_floor = encoder.transform(p_floor)
    scores = score_codes(
        designs[0],
        designs[1],
        {"independent_marginals": Design.of(x_floor, p_floor.binary)},
        top_idx,
        seed=seed,
        n_jobs=n_jobs,
    )
    floor: dict[str, Any] = {
        "dimension_wise_probability": dimension_wise_probability(p_train, p_floor, plan, with_arrays=False),
        "dimension_wise_prediction": summarise_baseline(scores, "independent_marginals"),
        "pairwise": pairwise_metrics(x_train, x_floor, encoder, top_codes, with_heatmap=False),
        "marginals": _means(marginal_distances(p_train, p_floor, plan)),
        "tstr": None,
    }
    if task is not None:
        result = run_tstr(task, encoder, (p_test, x_test), {"synthetic": (p_floor, x_floor)})
        section = tstr_section(task, result)
        floor["tstr"] = {k: v for k, v in section.items() if k.endswith("synthetic")}
    holdout = {
        "dimension_wise_probability": dimension_wise_probability(p_train, p_test, plan, with_arrays=False),
        "pairwise": pairwise_metrics(x_train, x_test, encoder, top_codes, with_heatmap=False),
        "marginals": _means(marginal_distances(p_train, p_test, plan)),
    }
    return {"independent_marginals": floor, "holdout": holdout, "note": BASELINE_NOTE}


def _means(marginals: dict[str, Any]) -> dict[str, Any]:
    return {"tvd_mean": marginals["tvd_mean"], "ks_mean": marginals["ks_mean"]}


def evaluate(
    train: pd.DataFrame,
    test: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    target: str | None = None,
    schema: SchemaLike | None = None,
    top_k: int = 100,
    random_state: RandomState = 0,
    n_jobs: int | None = None,
    baselines: bool = True,
) -> EvaluationReport:
    """Compare ``synthetic`` with the real ``train``/``test`` tables (docs/design.md §6, the medGAN protocol).

    Parameters
    ----------
    train, test, synthetic
        DataFrames with the same columns (identifier columns excluded from the evaluation may be absent from
        ``test``/``synthetic``).
    target
        Column for train-on-synthetic/test-on-real (TSTR); ``None`` skips TSTR.
    schema
        A schema JSON path, dict or object with ``to_dict()``; only column names and kinds are read.
        ``None``: kinds are inferred from ``train`` (rules in :mod:`ehrsynth.evaluation.columns`).
    top_k
        Number of most prevalent binary codes for dimension-wise prediction and pairwise metrics.
    random_state
        Seed or ``numpy.random.Generator`` for the baseline table and the model fits.
    n_jobs
        Parallel model fits (threads); ``None`` = 1, ``-1`` = all cores.
    baselines
        Add the independent-marginals floor and the real-holdout reference beside the synthetic numbers.

    Returns
    -------
    EvaluationReport
        ``report.to_dict()`` is JSON-able; ``report.to_html()`` a self-contained page.
    """
    _check_params(top_k, n_jobs, target, baselines)
    rng = as_generator(random_state)
    seed = int(rng.integers(2**31 - 1))
    timer = Stopwatch(logger, "evaluate")
    ctx = _prepare_all(train, test, synthetic, target, schema, int(top_k))
    timer.lap("prepare")
    settings = {
        "top_k": int(top_k),
        "target": target,
        "random_state": random_state if not isinstance(random_state, np.random.Generator) else "generator",
        "n_jobs": n_jobs,
        "baselines": baselines,
    }
    metrics = _synthetic_metrics(ctx, settings, timer, seed, n_jobs)
    metrics["baselines"] = None
    if baselines:
        metrics["baselines"] = _baselines(
            train,
            len(synthetic),
            ctx.plan,
            ctx.encoder,
            (ctx.p_train, ctx.x_train),
            (ctx.p_test, ctx.x_test),
            (ctx.d_train, ctx.d_test),
            ctx.top_idx,
            ctx.task,
            rng,
            seed,
            n_jobs,
        )
        timer.lap("baselines")
    metrics["timing_s"], metrics["cpu_time_s"] = timer.totals()
    return EvaluationReport(metrics)


@dataclass(frozen=True)
class _Context:
    """The three tables prepared and encoded against one plan and one encoder fitted on train."""

    plan: ColumnPlan
    encoder: Encoder
    p_train: Prepared
    p_test: Prepared
    p_synth: Prepared
    x_train: sp.csc_matrix
    x_test: sp.csc_matrix
    x_synth: sp.csc_matrix
    d_train: Design
    d_test: Design
    task: TargetTask | None
    prev: np.ndarray
    top_idx: list[int]

    @property
    def top_codes(self) -> list[str]:
        return [self.plan.binary[j] for j in self.top_idx]


def _prepare_all(
    train: pd.DataFrame,
    test: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str | None,
    schema: SchemaLike | None,
    top_k: int,
) -> _Context:
    """Check the three tables against one column plan, prepare and encode them, pick the top codes."""
    for df, what in ((train, "training"), (test, "test"), (synthetic, "synthetic")):
        check_frame(df, what)
    plan = plan_columns(train, schema)
    check_same_columns(train, test, "test", plan)
    check_same_columns(train, synthetic, "synthetic", plan)
    if target is not None:
        check_target_name(target, list(train.columns), plan)
    p_train = prepare(train, plan, "training")
    p_test = prepare(test, plan, "test")
    p_synth = prepare(synthetic, plan, "synthetic")
    task = make_task(target, plan, p_train, p_test) if target is not None else None
    encoder = Encoder(plan).fit(p_train)
    x_train, x_test, x_synth = (encoder.transform(p) for p in (p_train, p_test, p_synth))
    prev = prevalence(p_train)
    top_idx = _top_codes(plan, prev, top_k)
    designs = Design.of(x_train, p_train.binary), Design.of(x_test, p_test.binary)
    return _Context(
        plan, encoder, p_train, p_test, p_synth, x_train, x_test, x_synth, *designs, task, prev, top_idx
    )


def _synthetic_metrics(
    ctx: _Context, settings: dict[str, Any], timer: Stopwatch, seed: int, n_jobs: int | None
) -> dict[str, Any]:
    """Every metric of the synthetic table (the report without baselines and timings)."""
    plan, p_train, p_synth = ctx.plan, ctx.p_train, ctx.p_synth
    metrics: dict[str, Any] = {
        "kind": REPORT_KIND,
        "version": REPORT_VERSION,
        "ehrsynth_version": __version__,
        "settings": settings,
        "data": {
            "n_train": p_train.n_rows,
            "n_test": ctx.p_test.n_rows,
            "n_synthetic": p_synth.n_rows,
            "n_columns_evaluated": len(plan.kinds),
            "n_encoded_features": len(ctx.encoder.names_),
        },
        "columns": plan.to_dict(),
        "dimension_wise_probability": dimension_wise_probability(p_train, p_synth, plan),
        "count": dimension_wise_count(p_train, p_synth, plan),
        "marginals": marginal_distances(p_train, p_synth, plan),
    }
    timer.lap("probability and marginals")
    d_train = ctx.d_train
    scores = score_codes(
        d_train,
        ctx.d_test,
        {"real": d_train, "synthetic": Design.of(ctx.x_synth, p_synth.binary)},
        ctx.top_idx,
        seed=seed,
        n_jobs=n_jobs,
    )
    metrics["dimension_wise_prediction"] = summarise(scores, plan.binary, ctx.prev, settings["top_k"])
    timer.lap("dimension-wise prediction")
    metrics["pairwise"] = pairwise_metrics(ctx.x_train, ctx.x_synth, ctx.encoder, ctx.top_codes)
    timer.lap("pairwise")
    metrics["tstr"] = None
    if ctx.task is not None:
        per_source = run_tstr(
            ctx.task,
            ctx.encoder,
            (ctx.p_test, ctx.x_test),
            {"real": (p_train, ctx.x_train), "synthetic": (p_synth, ctx.x_synth)},
        )
        metrics["tstr"] = tstr_section(ctx.task, per_source)
        timer.lap("tstr")
    quality, note = sdmetrics_quality(p_train, p_synth, plan, ctx.top_codes)
    metrics["sdmetrics_quality"], metrics["sdmetrics_note"] = quality, note
    timer.lap("sdmetrics")
    return metrics
