"""The ``measure`` engine inside a MedGAN fit: the measure-then-fit steps after the 1-way release.

The fit's schema step has already run the one DP release of every column's 1-way marginal
(:mod:`ehrsynth.dp.one_way`, ``marginal_share`` of ε), unless a complete declared schema was fitted with
``calibrate_marginals=False``: then the units whose marginal the schema does not declare are measured here,
in the same plan (:data:`OWN_ONE_WAY_SHARE`). This module spends the REST of the budget
(:func:`~ehrsynth.dp.measure_budget.plan_measure_budget` with those 1-way mechanisms as ``fixed``) on the per-row
cap, all cross-block pairs (truncated and clipped, measure_engine) and (when :data:`MEASURE_ROUNDS` > 0) the adaptive triple rounds (:mod:`ehrsynth.training.measure_engine`), and fits the
generator + decoder to the released 1-ways and pairs. No DP-SGD runs: the discriminator stays untrained, and
everything after the releases is post-processing. Without DP the same steps use exact statistics.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ehrsynth.dp.accounting import Mechanism
from ehrsynth.dp.measure_budget import DEFAULT_PER_ROUND, exact_plan, plan_measure_budget
from ehrsynth.dp.sparse_marginals import (
    DEFAULT_MAX_CAP,
    IndicatorLayout,
    free_ones_per_row,
    indicator_matrix,
    priority,
    release_one_ways,
    truncate_rows,
)
from ehrsynth.training.measure_engine import MeasureConfig, release_bounds, run_measure_engine
from ehrsynth.training.medgan_parts import MedGANConfig, MedGANModules
from ehrsynth.training.progress import ProgressCallback
from ehrsynth.training.row_sizes import denoise_sizes, exact_sizes

logger = logging.getLogger(__name__)

#: shares of the budget left after the 1-way release (μ² shares, see dp/measure_budget.py); shares are
#: normalised over the releases that run, so with MEASURE_ROUNDS = 0 the pairs get 0.75 / 0.81 of it
MEASURE_SHARES = {"row_cap": 0.06, "one_way": 0.0, "pairs": 0.75, "rounds": 0.19}
#: adaptive triple rounds: off by default. Measured (benchmarks/RESULTS.md, measure-tuning): on diabetes
#: 10k × 200 two rounds of 20 triples lowered the dimension-wise AUROC (ε=1: 0.571 vs 0.577, ε=3: 0.607 vs
#: 0.617) and cost ~20 % of the fit time: the budget they take from the pairs is worth more there
MEASURE_ROUNDS = 0
#: μ² share of the engine's own 1-way release, beside MEASURE_SHARES, when the schema carries no 1-way for
#: some units (a complete declared schema with ``calibrate_marginals=False`` skips the schema's release):
#: about 43 % of what the engine spends, close to the 45 % the schema's release gets by default
OWN_ONE_WAY_SHARE = 0.6


def fit_measured(
    config: MedGANConfig,
    modules: MedGANModules,
    data: np.ndarray,
    *,
    fixed: list[Mechanism],
    count_sd: float,
    rng: np.random.Generator,
    tgen: torch.Generator,
    progress: ProgressCallback | None = None,
) -> tuple[list[Mechanism], dict[str, list[dict[str, float]]], list[float]]:
    """Release the pairs (and rounds of triples) of the encoded ``data`` and fit the modules to them in place.

    ``fixed``: the mechanisms already run (the 1-way release); ``count_sd``: that release's noise on a count
    (0 without DP). Returns the mechanisms run here, the fit history (errors against released values) and the
    row-size histogram sampling keeps (:mod:`ehrsynth.training.row_sizes`: the released one, its empty bins'
    noise removed; exact without DP).
    """

    dp = config.dp
    layout = modules.transformer.layout
    ind = IndicatorLayout.from_layout(layout)
    target, known = modules.transformer.marginal_targets()
    unknown = ~known[ind.units]  # no released or declared 1-way: the engine measures those itself
    if dp is None:
        plan = exact_plan(MEASURE_ROUNDS, DEFAULT_PER_ROUND)
    else:
        plan = plan_measure_budget(
            epsilon=dp.epsilon,
            delta=dp.delta,
            accountant=dp.accountant,
            shares=MEASURE_SHARES | ({"one_way": OWN_ONE_WAY_SHARE} if unknown.any() else {}),
            rounds=MEASURE_ROUNDS,
            per_round=DEFAULT_PER_ROUND,
            fixed=fixed,
        )
    bounds = release_bounds(data, layout, plan=plan, rng=rng, quantiles=(0.9, 0.99))
    caps, cap_mechanisms = bounds.caps, list(bounds.mechanisms)
    # clipped pairs beside the truncated ones (under DP, where the table has codes to clip)
    clip = bounds.clip if ind.free.any() else None
    hist = None if bounds.ones_hist is None else (bounds.ones_hist, bounds.ones_hist_sd)
    n = len(data)
    one_way = np.clip(target[ind.units], 0.0, 1.0)
    one_way_sd = np.full(ind.size, count_sd / max(n, 1))
    if unknown.any():
        M = truncate_rows(indicator_matrix(data, ind), ind, caps[1], priority(ind, "hash"))
        freq, sd, mech = release_one_ways(
            M, ones=ind.n_fixed + caps[1], noise_multiplier=plan.one_way, rng=rng
        )
        one_way = np.where(unknown, np.clip(freq, 0.0, 1.0), one_way)
        one_way_sd = np.where(unknown, sd, one_way_sd)
        cap_mechanisms += [mech] if mech is not None else []
        logger.info("measure engine: %d units had no released 1-way; measured them", int(unknown.sum()))
    result = run_measure_engine(
        data,
        layout,
        modules.generator,
        modules.autoencoder,
        one_way=one_way,
        one_way_sd=one_way_sd,
        cap=caps[0],
        plan=plan,
        rng=rng,
        generator_rng=tgen,
        config=measure_config(config.query_steps),
        progress=progress,
        clip=clip,
        ones_hist=hist if clip is not None else None,
    )
    logger.info(
        "measure engine: cap K=%d, %d mechanisms", caps[0], len(cap_mechanisms) + len(result.mechanisms)
    )
    history: dict[str, Any] = {"measure": result.history["fit"], "rounds": result.history["rounds"]}
    if bounds.ones_hist is not None:  # released: post-processing of the row cap's histogram
        sizes = denoise_sizes(bounds.ones_hist, bounds.ones_hist_sd).tolist()
    else:
        sizes = exact_sizes(free_ones_per_row(indicator_matrix(data, ind), ind), DEFAULT_MAX_CAP)
    return [*cap_mechanisms, *result.mechanisms], history, sizes


def measure_config(query_steps: int | None) -> MeasureConfig:
    """The engine's settings with ``query_steps`` Adam steps for the fit (None: the default schedule); each
    adaptive round refits for at most as many steps."""
    default = MeasureConfig()
    if query_steps is None:
        return default
    return replace(
        default,
        fit=replace(default.fit, steps=query_steps),
        round_steps=min(default.round_steps, query_steps),
    )
