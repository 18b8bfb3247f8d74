"""The measure-then-fit engine (DESIGN §4b, issue 12): DP measurements, then a free fit of medGAN's modules.

Order of a DP fit (the caller owns the 1-way release, :mod:`ehrsynth.dp.sparse_marginals` documents the bounds):

1. :func:`release_cap` / :func:`release_bounds` — one Gaussian histogram of BINARY/MISSING ones per row, from
   which K (the row cap at a quantile) and the pair clipping bounds (:func:`~ehrsynth.dp.pair_clip.choose_clip`)
   are read.
2. the caller releases all 1-way frequencies of the indicator units (sensitivity √(C + K)).
3. :func:`run_measure_engine` — releases ALL cross-block pair counts twice, in Gaussians that share one
   budget (:data:`CLIP_SHARE`): on the rows truncated to K free ones in a fixed public order (rarest
   released 1-way first; one Gaussian per pair group) and, with ``clip`` (the estimator's DP path), on every
   row with its pairs weighed down to a bound (:mod:`ehrsynth.dp.pair_clip`: most rows keep their weight
   and the noise is set by a small bound, not by K). It fits generator + decoder to the 1-ways and both
   pair releases, then runs adaptive rounds: each selects ``per_round`` worst-fitted triples (exponential
   mechanism on the current fit's error, sensitivity 1) among seeded candidates, measures them (on the
   truncated rows) in one Gaussian and refits.

Why two pair releases: the clipped pairs carry about 1.7× the signal per unit of noise on sparse code
tables, but alone they do not pin the dependence (a model whose rows have other sizes matches the weighted
sums with other pair counts, and overstated planted dependence by 30–60 %); the truncated pairs pin the
plain counts, and together they keep most of the gain (benchmarks/RESULTS.md, measure-tuning, "Fifth pass").

Stopping rule: a round whose selected triples were already fitted within twice their measurement noise (mean
|released − model| ≤ 2 sd) ends the rounds; the budget of rounds not run is left unspent (only mechanisms
that ran are returned). Without DP (``plan.private`` False) the same steps use exact statistics and the
selection takes the exact worst triples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
import torch

from ehrsynth.dp.accounting import Gaussian, Mechanism
from ehrsynth.dp.measure_budget import MeasurePlan
from ehrsynth.dp.pair_clip import PairClip, choose_clip
from ehrsynth.dp.selection import candidate_triples, em_epsilon, select_top_k, triple_model_answers
from ehrsynth.dp.sparse_marginals import (
    DEFAULT_CAP_QUANTILE,
    IndicatorLayout,
    PairRelease,
    free_ones_per_row,
    indicator_matrix,
    pair_group_masks,
    pair_group_multipliers,
    priority,
    release_ones_histogram,
    release_pairs,
    release_triples,
    triple_counts,
    truncate_rows,
)
from ehrsynth.errors import InvalidParameterError
from ehrsynth.models.medgan import Autoencoder, Generator
from ehrsynth.training.progress import ProgressCallback
from ehrsynth.training.query_fit import (
    MeasuredQueries,
    QueryFitConfig,
    fit_queries,
    indicator_probabilities,
    init_decoder_bias,
    refresh_batchnorm,
)
from ehrsynth.transforms.layout import Span

logger = logging.getLogger(__name__)

#: the pair budget's share (of μ²) spent on the clipped pairs when they are measured beside the truncated ones
#: (:func:`run_measure_engine` with ``clip``). Diabetes 10k × 208, ε = 1, three seeds, dimension-wise AUROC
#: with every group in both releases: 0.5 → 0.643, 0.7 → 0.644 (truncated pairs alone 0.617, clipped alone
#: 0.651 but overstating planted dependence); 0.7 overstated the planted blocks more (benchmarks/RESULTS.md,
#: measure-tuning, "Fifth pass"). With :data:`CLIP_GROUPS`: 0.639, TSTR 0.613.
CLIP_SHARE = 0.5

#: the pair groups (:func:`~ehrsynth.dp.sparse_marginals.pair_group_masks`) measured on clipped rows too
CLIP_GROUPS: tuple[str, ...] = ("free", "mixed")


@dataclass(frozen=True)
class MeasureConfig:
    """Engine settings: truncation order, candidates per round, the initial fit and each round's refit."""

    truncation: str = "rarest"
    candidates: int = 2000
    fit: QueryFitConfig = field(default_factory=QueryFitConfig)
    round_steps: int = 120
    answer_batch: int = 8192
    init_bias: bool = True


@dataclass
class MeasureResult:
    mechanisms: list[Mechanism]
    history: dict[str, list[dict[str, float]]]
    cap: int
    queries: MeasuredQueries


def release_cap(
    X: np.ndarray,
    layout: list[Span],
    *,
    plan: MeasurePlan,
    rng: np.random.Generator,
    quantile: float = DEFAULT_CAP_QUANTILE,
) -> tuple[int, list[Mechanism]]:
    """K (free ones kept per row) from a DP quantile of ones per row, and its mechanism; without DP the
    largest number of ones in a row (no truncation). See :func:`release_caps` for several quantiles."""
    (k,), mechs = release_caps(X, layout, plan=plan, rng=rng, quantiles=(quantile,))
    return k, mechs


def release_caps(
    X: np.ndarray,
    layout: list[Span],
    *,
    plan: MeasurePlan,
    rng: np.random.Generator,
    quantiles: tuple[float, ...],
) -> tuple[tuple[int, ...], list[Mechanism]]:
    """Caps at several quantiles from ONE released histogram (e.g. 0.99 for the 1-ways, 0.9 for pairs)."""
    bounds = release_bounds(X, layout, plan=plan, rng=rng, quantiles=quantiles)
    return bounds.caps, bounds.mechanisms


@dataclass(frozen=True)
class RowBounds:
    """What ONE released histogram of free ones per row gives: ``caps`` at the requested quantiles, the pair
    clipping bounds ``clip`` (:func:`~ehrsynth.dp.pair_clip.choose_clip`) and the histogram itself as
    frequencies over 0..max_cap (the last bin holds the rows above), with its noise sd on that scale (the fit
    matches its rows' sizes to it); without DP only the caps (the most ones in a row: no bound)."""

    caps: tuple[int, ...]
    clip: PairClip | None
    ones_hist: np.ndarray | None
    ones_hist_sd: float
    mechanisms: list[Mechanism]


def release_bounds(
    X: np.ndarray,
    layout: list[Span],
    *,
    plan: MeasurePlan,
    rng: np.random.Generator,
    quantiles: tuple[float, ...],
) -> RowBounds:
    """Caps at several quantiles, the pair clipping bounds and the row-size histogram, all from ONE released
    histogram of free ones per row (L2 sensitivity 1, ``plan.row_cap``); which bound a caller uses is
    post-processing of that release."""
    ind = IndicatorLayout.from_layout(layout)
    per_row = free_ones_per_row(indicator_matrix(X, ind), ind)
    if not plan.private:  # exact statistics need no bound: keep every one
        return RowBounds(tuple(max(1, int(per_row.max(initial=0))) for _ in quantiles), None, None, 0.0, [])
    hist, mech = release_ones_histogram(per_row, noise_multiplier=plan.row_cap, rng=rng)
    n = max(hist.n, 1)
    return RowBounds(
        caps=tuple(hist.quantile(q) for q in quantiles),
        clip=choose_clip(hist.counts, ind.n_fixed),
        ones_hist=hist.counts / n,
        ones_hist_sd=float(plan.row_cap or 0.0) / n,
        mechanisms=[mech] if mech is not None else [],
    )


def run_measure_engine(
    X: np.ndarray,
    layout: list[Span],
    generator: Generator,
    autoencoder: Autoencoder,
    *,
    one_way: np.ndarray,
    one_way_sd: np.ndarray | float | None,
    cap: int,
    plan: MeasurePlan,
    rng: np.random.Generator,
    generator_rng: torch.Generator,
    config: MeasureConfig | None = None,
    progress: ProgressCallback | None = None,
    clip: PairClip | None = None,
    ones_hist: tuple[np.ndarray, float] | None = None,
    clip_share: float | None = None,
) -> MeasureResult:
    """Measure pairs (and adaptive triples) of the encoded ``X`` and fit ``generator`` + ``autoencoder``'s
    decoder to them in place. ``clip`` (:mod:`ehrsynth.dp.pair_clip`; the estimator passes the bounds of
    :func:`release_bounds` under DP): ALSO measure the pairs of every row weighed down to these bounds, with
    ``clip_share`` of the pair budget (default :data:`CLIP_SHARE`); None: the truncated pairs only (always
    without DP). ``ones_hist``: (frequencies, sd) of the released row-size histogram, a soft target of the
    fit with ``clip``. ``one_way``/``one_way_sd``: the released 1-way frequencies of the indicator
    units (:func:`~ehrsynth.dp.sparse_marginals.indicator_layout` order) and their noise std (0/None = exact).
    Returns the mechanisms run here (pairs, selections, triples), a history of errors against released
    values, and the measured queries."""
    config = config or MeasureConfig()
    clip_share = CLIP_SHARE if clip_share is None else clip_share
    if clip is not None and not 0.0 < clip_share < 1.0:
        raise InvalidParameterError(
            f"clip_share (the pair budget's part spent on the clipped pairs) must be in (0, 1), found {clip_share!r}"
        )
    ind = IndicatorLayout.from_layout(layout)
    one_way = _check_one_way(one_way, ind.size)
    full = indicator_matrix(X, ind)
    M = truncate_rows(full, ind, cap, priority(ind, config.truncation, one_way))
    ones = ind.n_fixed + cap
    n = M.shape[0]
    pairs, clipped = _release_pairs(M, full, ind, ones, plan.pairs, rng, clip, clip_share)
    mechanisms: list[Mechanism] = [*pairs.mechanisms, *(clipped.mechanisms if clipped else ())]
    sd1 = np.zeros(ind.size) if one_way_sd is None else np.broadcast_to(one_way_sd, (ind.size,))
    queries = MeasuredQueries(
        ind.units,
        ind.blocks,
        n,
        one_way,
        np.asarray(sd1, dtype=np.float64),
        pairs.freq,
        pairs.sd,
        pairs.mask,
        clip=clip,
        free=ind.free,
        ones_hist=None if clip is None or ones_hist is None else ones_hist[0],
        ones_hist_sd=0.0 if ones_hist is None else ones_hist[1],
        clip_pairs=None if clipped is None else clipped.freq,
        clip_pair_sd=0.0 if clipped is None else clipped.sd,
        clip_mask=None if clipped is None else clipped.mask,
    )
    if config.init_bias:
        init_decoder_bias(autoencoder, queries)
    history: dict[str, list[dict[str, float]]] = {"fit": [], "rounds": []}
    history["fit"] = fit_queries(
        generator, autoencoder, queries, config=config.fit, generator_rng=generator_rng, progress=progress
    )
    ctx = _Round(M, ind, ones, plan, config, generator, autoencoder, rng, generator_rng)
    measured: set[tuple[int, ...]] = set()
    for r in range(plan.rounds):
        step = ctx.select_and_measure(queries, measured, r + 1)
        if step is None:
            break
        queries, mechs, record = step
        mechanisms += mechs
        history["rounds"].append(record)
        refit = replace(config.fit, steps=config.round_steps)
        history["fit"] += fit_queries(
            generator, autoencoder, queries, config=refit, generator_rng=generator_rng
        )
        if record["mean_gap"] <= 2 * record["sd"]:
            break
    refresh_batchnorm(generator, generator_rng)
    autoencoder.eval()
    return MeasureResult(mechanisms, history, cap, queries)


def _release_pairs(
    M: sp.csr_matrix,
    full: sp.csr_matrix,
    ind: IndicatorLayout,
    ones: int,
    noise_multiplier: float | None,
    rng: np.random.Generator,
    clip: PairClip | None,
    share: float,
) -> tuple[PairRelease, PairRelease | None]:
    """The pairs of the truncated rows ``M`` and, with ``clip``, the clipped pairs of the ``full`` rows in the
    groups of :data:`CLIP_GROUPS`: Gaussians with the budget of ONE release at ``noise_multiplier`` (μ² adds),
    each clipped group taking ``share`` of its group's μ² from the truncated release."""
    if clip is None:
        return release_pairs(M, ind, ones=ones, noise_multiplier=noise_multiplier, rng=rng), None
    masks = pair_group_masks(ind)
    kept = np.logical_or.reduce([masks[g] for g in CLIP_GROUPS])
    if noise_multiplier is None:  # exact statistics: both, the clipped ones in their groups only
        clipped = release_pairs(full, ind, ones=ones, noise_multiplier=None, rng=rng, clip=clip)
        truncated = release_pairs(M, ind, ones=ones, noise_multiplier=None, rng=rng)
        return truncated, replace(clipped, mask=clipped.mask & kept)
    mu = {g: m**-2.0 for g, m in pair_group_multipliers(ind, ones - ind.n_fixed, noise_multiplier).items()}
    on_clip = {g: share * v for g, v in mu.items() if g in CLIP_GROUPS and clip.sensitivities()[g] > 0}
    if not on_clip:  # no clipped group a row can reach (e.g. no code pairs)
        return release_pairs(M, ind, ones=ones, noise_multiplier=noise_multiplier, rng=rng), None
    on_trunc = {g: v - on_clip.get(g, 0.0) for g, v in mu.items()}

    def budget(part: dict[str, float]) -> tuple[float, dict[str, float]]:
        total = sum(part.values())  # μ² of the release, split by group
        return total**-0.5, {g: v / total for g, v in part.items()}

    (s_trunc, sh_trunc), (s_clip, sh_clip) = budget(on_trunc), budget(on_clip)
    truncated = release_pairs(M, ind, ones=ones, noise_multiplier=s_trunc, rng=rng, shares=sh_trunc)
    clipped = release_pairs(
        full,
        ind,
        ones=ones,
        noise_multiplier=s_clip,
        rng=rng,
        name="measure:pairs_clip",
        clip=clip,
        shares=sh_clip,
    )
    return truncated, clipped


def _check_one_way(one_way: np.ndarray, size: int) -> np.ndarray:
    out = np.asarray(one_way, dtype=np.float64)
    if out.shape != (size,):
        raise InvalidParameterError(
            f"one_way must hold one frequency per indicator unit ({size}), found shape {out.shape}; pass the "
            "1-way release in the order of ehrsynth.dp.sparse_marginals.indicator_layout(layout)"
        )
    return out


@dataclass
class _Round:
    """What one adaptive round reads: the truncated matrix, the plan, the modules being fitted."""

    M: sp.csr_matrix
    ind: IndicatorLayout
    ones: int
    plan: MeasurePlan
    config: MeasureConfig
    generator: Generator
    autoencoder: Autoencoder
    rng: np.random.Generator
    generator_rng: torch.Generator

    def select_and_measure(
        self, queries: MeasuredQueries, measured: set[tuple[int, ...]], r: int
    ) -> tuple[MeasuredQueries, list[Mechanism], dict[str, float]] | None:
        """Select ``per_round`` triples (EM on |count − n·model|, sensitivity 1, n public) and measure them."""
        plan, n = self.plan, self.M.shape[0]
        public = np.random.default_rng(self.rng.integers(2**63))  # candidates: released pairs + a seed only
        cands = candidate_triples(self.ind, queries.pairs, self.config.candidates, public)
        cands = np.asarray([t for t in cands if tuple(t) not in measured], dtype=np.int64).reshape(-1, 3)
        if len(cands) == 0:
            return None
        model = _model_triples(
            self.generator, self.autoencoder, self.ind, cands, self.config.answer_batch, self.generator_rng
        )
        scores = np.abs(triple_counts(self.M, cands) - n * model)
        k = min(plan.per_round, len(cands))
        if plan.private and plan.select is not None:
            idx = select_top_k(scores, k, epsilon0=em_epsilon(plan.select), sensitivity=1.0, rng=self.rng)
        else:
            idx = np.argsort(-scores, kind="stable")[:k]
        picked = cands[idx]
        measured.update(tuple(int(v) for v in t) for t in picked)
        freq, sd, mech = release_triples(
            self.M,
            picked,
            ones=self.ones,
            noise_multiplier=plan.triples,
            rng=self.rng,
            name=f"measure:triples:{r}",
        )
        mechs: list[Mechanism] = []
        if mech is not None and plan.select is not None:
            mechs = [Gaussian(f"measure:select:{r}", plan.select, count=len(picked)), mech]
        gap = float(np.abs(freq - model[idx]).mean())  # released values only
        record = {
            "round": float(r),
            "triples": float(k),
            "candidates": float(len(cands)),
            "mean_gap": gap,
            "sd": sd,
        }
        return queries.with_triples(picked, freq, sd), mechs, record


def _model_triples(
    generator: Generator,
    autoencoder: Autoencoder,
    ind: IndicatorLayout,
    triples: np.ndarray,
    m: int,
    generator_rng: torch.Generator,
) -> np.ndarray:
    """The current fit's "all three on" frequencies, from ``m`` fresh latent vectors as sampling sees them."""
    refresh_batchnorm(generator, generator_rng)
    autoencoder.eval()
    device = next(generator.parameters()).device
    with torch.no_grad():
        z = torch.randn(m, generator.latent_dim, generator=generator_rng).to(device)
        units = torch.as_tensor(ind.units, device=device)
        P = indicator_probabilities(generator, autoencoder, z, units).double().cpu().numpy()
    return triple_model_answers(P, triples)
