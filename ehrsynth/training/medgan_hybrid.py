"""The ``hybrid`` engine inside a MedGAN fit: DP measurements of all pairs, then the DP-SGD medGAN whose
generator loss is the adversarial loss plus λ × the measured-query loss (issue 12, item 2).

Order of a DP fit (the fit's schema step has already run the 1-way release, ``marginal_share`` of ε):

1. :func:`plan_measurements` — the measurements (row cap K, all cross-block pairs; no adaptive triple rounds:
   the discriminator is what is meant to find the higher-order structure) get ``measure_share`` of the ε
   left after the 1-way release, *as composed ε*: they are calibrated so that 1-way release + cap + pairs
   spend ``ε₁ + measure_share · (ε − ε₁)`` (ε₁: the 1-way release alone) under the fit's accountant
   (:func:`~ehrsynth.dp.measure_budget.plan_measure_budget`, ``rounds=0``, the 1-ways as ``fixed``).
2. :func:`measure_queries` — K from a DP quantile (0.9) of ones per row, rows truncated to K in the public
   "rarest first" order, all pair counts in ONE Gaussian release (sensitivity √(L(L−1)/2), L = C + K;
   :mod:`ehrsynth.dp.sparse_marginals`), exactly as the ``measure`` engine does.
3. The caller then runs the DP-SGD medGAN (autoencoder pretraining, adversarial training) with the cap and
   pair mechanisms added to its ``fixed`` mechanisms, so ``plan_sgd_noise`` calibrates the DP-SGD noise for
   the TOTAL (1-way + cap + pairs + autoencoder + discriminator) to compose to ε.
4. :func:`query_loss` — the generator's extra loss term: the inverse-variance-weighted query error
   (:class:`~ehrsynth.training.query_fit.QueryTargets`) of the generated batch's indicator probabilities
   (``fake`` is ``decoder(G(z))`` through the layout head, so its indicator columns ARE
   ``indicator_probabilities(G, AE, z, units)``), as λ · L / stop_gradient(L): its gradient is λ · ∇log L,
   so the pull towards the measurements keeps the same weight against the adversarial loss however well the
   queries are already fitted and whatever the table's scale (an earlier version, λ · L / Σw, needed λ ≈ 1e5
   on a 12-code table and far more on 200 codes, whose many tiny pairs make L small). It reads only generated
   data and released answers: post-processing, charged nothing. Only the DP-SGD steps of the autoencoder and
   the discriminator are charged.

Without DP the same steps use exact statistics (no cap: every one kept; exact pair frequencies).

Defaults (``MedGANConfig.hybrid_measure_share`` = 0.8, ``hybrid_query_weight`` = λ = 10; constants in
:mod:`ehrsynth.training.medgan_parts`), from a small measurement (``benchmarks/hybrid_tune.py``, diabetes
10k × 204, ε = 1, one seed; RESULTS.md *engines*): dimension-wise AUROC 0.603 at λ = 1 and 0.608 at λ = 10
(``measure`` 0.604, ``dpsgd`` 0.509). With the first version of the term (λ · L / Σw) λ ≤ 1e5 stayed at
chance (0.48–0.53 on 3k and 10k rows): the adversarial loss dominated. The measurements get 0.8 of the ε left
after the 1-way release because the DP-SGD discriminator alone learns no dependence at ε ≤ 3 (``dpsgd`` rows
of the engine benchmark) while the pairs are what the query loss fits; the DP-SGD phases keep the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ehrsynth.dp.accounting import Mechanism, compute_epsilon
from ehrsynth.dp.budget import DPConfig
from ehrsynth.dp.measure_budget import MeasurePlan
from ehrsynth.errors import InvalidParameterError
from ehrsynth.training.adversarial import GeneratorLoss
from ehrsynth.training.medgan_parts import MedGANConfig, MedGANModules
from ehrsynth.training.query_fit import MeasuredQueries, QueryFitConfig, QueryTargets

logger = logging.getLogger(__name__)

#: μ² split inside the measurements (as the measure engine: the cap needs little)
HYBRID_SHARES = {"row_cap": 0.06, "pairs": 0.94}
CAP_QUANTILE = 0.9
UNKNOWN_SD = 1e3  # a 1-way target the schema does not carry: weight ≈ 0 in the query loss


def check_settings(config: MedGANConfig) -> None:
    """``hybrid_measure_share`` in (0, 1) and λ = ``hybrid_query_weight`` >= 0 (0: the dpsgd engine plus an
    unused pair release)."""
    share, weight = config.hybrid_measure_share, config.hybrid_query_weight
    if not 0 < share < 1:
        raise InvalidParameterError(
            f"hybrid_measure_share must be in (0, 1), found {share!r}; it is the share of the budget left "
            "after the 1-way release that the pair measurements spend"
        )
    if not weight >= 0:
        raise InvalidParameterError(f"hybrid_query_weight must be a number >= 0, found {weight!r}")


@dataclass
class HybridMeasurement:
    """What the measurement stage released: the queries, their mechanisms and K."""

    queries: MeasuredQueries
    mechanisms: list[Mechanism]
    cap: int


def plan_measurements(dp: DPConfig | None, fixed: list[Mechanism], share: float) -> MeasurePlan:
    """The cap and pair noise multipliers: ``fixed`` + cap + pairs spend ε₁ + ``share`` · (ε − ε₁)."""
    from ehrsynth.dp.measure_budget import exact_plan, plan_measure_budget

    if dp is None:
        return exact_plan(0, 1)
    eps_fixed = compute_epsilon(fixed, dp.delta, accountant=dp.accountant) if fixed else 0.0
    target = eps_fixed + share * (dp.epsilon - eps_fixed)
    return plan_measure_budget(
        epsilon=target,
        delta=dp.delta,
        accountant=dp.accountant,
        shares=HYBRID_SHARES,
        rounds=0,
        fixed=fixed,
    )


def measure_queries(
    modules: MedGANModules,
    data: np.ndarray,
    *,
    plan: MeasurePlan,
    count_sd: float,
    rng: np.random.Generator,
) -> HybridMeasurement:
    """Release K and all cross-block pairs of the encoded ``data`` (exact without DP) as measured queries;
    the 1-way answers are the schema's released (or exact) marginals, with ``count_sd`` their noise on a
    count."""
    from ehrsynth.dp.sparse_marginals import (
        IndicatorLayout,
        indicator_matrix,
        priority,
        release_pairs,
        truncate_rows,
    )
    from ehrsynth.training.measure_engine import release_caps

    layout = modules.transformer.layout
    ind = IndicatorLayout.from_layout(layout)
    (cap,), mechanisms = release_caps(data, layout, plan=plan, rng=rng, quantiles=(CAP_QUANTILE,))
    target, known = modules.transformer.marginal_targets()
    one_way = np.clip(target[ind.units], 0.0, 1.0)
    n = len(data)
    sd1 = np.where(known[ind.units], count_sd / max(n, 1), UNKNOWN_SD)
    M = truncate_rows(indicator_matrix(data, ind), ind, cap, priority(ind, "rarest", one_way))
    pairs = release_pairs(M, ind, ones=ind.n_fixed + cap, noise_multiplier=plan.pairs, rng=rng)
    mechanisms.extend(pairs.mechanisms)
    queries = MeasuredQueries(
        ind.units, ind.blocks, n, one_way, sd1.astype(np.float64), pairs.freq, pairs.sd, pairs.mask
    )
    logger.info("hybrid engine: cap K=%d, %d units, %d mechanisms", cap, ind.size, len(mechanisms))
    return HybridMeasurement(queries, mechanisms, cap)


class QueryLoss:
    """λ × the weighted query error of a generated batch; keeps the last unweighted errors for the history
    (functions of generated data and released answers only)."""

    def __init__(self, queries: MeasuredQueries, device: torch.device, weight: float) -> None:
        self.targets = QueryTargets(queries, device, QueryFitConfig())
        self.weight = weight
        self.last: dict[str, float] = {}

    def __call__(self, fake: torch.Tensor) -> torch.Tensor:
        P = fake.index_select(1, self.targets.units)
        loss, self.last = self.targets.losses(P)
        # λ · L / stop_gradient(L): the gradient of λ · log L, so the query pull keeps its weight against the
        # adversarial loss however small L gets and whatever the table's scale (number and size of pairs)
        return self.weight * loss / loss.detach().clamp_min(1e-12)


def query_loss(measurement: HybridMeasurement, device: torch.device, weight: float) -> GeneratorLoss | None:
    """The generator-loss hook for the adversarial trainer (None when λ = ``weight`` = 0)."""
    if weight == 0:
        return None
    return QueryLoss(measurement.queries, device, weight)
