"""Fit medGAN's generator + decoder to measured marginal queries (post-processing of DP releases: free).

The model's answers come from a batch of m latent vectors: P = probabilities of the indicator units
(m × u, the layout head's sigmoid/softmax), 1-way answers ``P.mean(0)``, all pairs ``PᵀP / m`` (one matrix
product), triples ``mean(P_a · P_b · P_c)``. The loss is the inverse-variance-weighted squared error to the
targets (GEM, Liu et al. 2021; MargNet): a target's variance is its DP noise variance plus one count²,
``sd² + 1/n²``, so exact statistics (no DP) get uniform weights. (A sampling-variance floor t(1 − t)/n gave
near-zero targets weights so large that the fit stalled on them.)
Targets are first projected to feasible values (:func:`project`). The cost of a step depends on m and the
number of units, never on the number of rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ehrsynth.dp.pair_clip import PairClip
from ehrsynth.errors import InvalidParameterError
from ehrsynth.models.medgan import Autoencoder, Generator
from ehrsynth.training.clip_fit import ONES_HIST_SD_FLOOR, clipped_pair_loss, ones_hist_loss
from ehrsynth.training.progress import ProgressCallback, Throttle

logger = logging.getLogger(__name__)

PROB_FLOOR = 1e-6


@dataclass(frozen=True)
class MeasuredQueries:
    """Released answers on the frequency scale over the u indicator units (``units``: positions in the
    decoder's output, ``blocks``: block id per unit). ``pairs`` is symmetric (u × u) and only the
    ``pair_mask`` entries (upper triangle, cross-block) are targets; ``*_sd`` are noise std (0 = exact):
    ``pair_sd`` one value for all pairs or a symmetric (u × u) matrix (one value per released pair group)."""

    units: np.ndarray
    blocks: np.ndarray
    n: int
    one_way: np.ndarray
    one_way_sd: np.ndarray
    pairs: np.ndarray
    pair_sd: float | np.ndarray
    pair_mask: np.ndarray
    triples: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))
    triple_freq: np.ndarray = field(default_factory=lambda: np.zeros(0))
    triple_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # clipped pairs (dp/pair_clip.py), measured beside ``pairs``: their bounds, the released weighted sums
    # (u × u, symmetric, same mask) and their noise sd, the clipped (BINARY/MISSING) units and the released
    # row-size histogram (frequencies of 0, 1, … free ones per row, the last bin the rest)
    clip: PairClip | None = None
    free: np.ndarray | None = None
    ones_hist: np.ndarray | None = None
    ones_hist_sd: float = 0.0
    clip_pairs: np.ndarray | None = None
    clip_pair_sd: float | np.ndarray = 0.0
    clip_mask: np.ndarray | None = None  # the clipped pairs released (upper triangle); None: ``pair_mask``

    def with_triples(self, triples: np.ndarray, freq: np.ndarray, sd: float) -> MeasuredQueries:
        t = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        return replace(
            self,
            triples=np.concatenate([self.triples, t]),
            triple_freq=np.concatenate([self.triple_freq, np.asarray(freq, dtype=np.float64)]),
            triple_sd=np.concatenate([self.triple_sd, np.full(len(t), float(sd))]),
        )


def project(q: MeasuredQueries, *, pairs_too: bool = True) -> MeasuredQueries:
    """Feasible targets: 1-ways in [0, 1] and each SOFTMAX block summing to 1; pairs in their Fréchet
    bounds [max(0, p_a + p_b − 1), min(p_a, p_b)]; triples within the bounds their pairs allow.

    ``pairs_too=False`` leaves pairs and triples as released: clipping each noisy value at 0 biases every
    pair whose true frequency is below the noise upwards (by ≈ 0.4 sd), a systematic error the model fits,
    while zero-mean noise averages out in a model with far fewer parameters than queries."""
    p = np.clip(q.one_way, 0.0, 1.0)
    for b in np.unique(q.blocks):
        pos = np.flatnonzero(q.blocks == b)
        if len(pos) > 1:  # a one-hot block's frequencies sum to exactly 1 (uniform if noise zeroed them all)
            total = p[pos].sum()
            p[pos] = p[pos] / total if total > 0 else 1.0 / len(pos)
    if not pairs_too:
        return replace(q, one_way=p)
    lo = np.maximum(0.0, p[:, None] + p[None, :] - 1.0)
    hi = np.minimum(p[:, None], p[None, :])
    pairs = np.where(q.pair_mask | q.pair_mask.T, np.clip(q.pairs, lo, hi), 0.0)
    t = q.triples
    tri = q.triple_freq
    if len(t):
        a, b, c = t[:, 0], t[:, 1], t[:, 2]
        pab, pac, pbc = pairs[a, b], pairs[a, c], pairs[b, c]
        t_hi = np.minimum(np.minimum(pab, pac), pbc)
        t_lo = np.maximum.reduce([np.zeros_like(pab), pab + pac - p[a], pab + pbc - p[b], pac + pbc - p[c]])
        tri = np.clip(tri, np.minimum(t_lo, t_hi), t_hi)
    return replace(q, one_way=p, pairs=pairs, triple_freq=tri)


def shrink_pairs(q: MeasuredQueries, *, bins: int = 32) -> MeasuredQueries:
    """Empirical-Bayes denoising of noisy pairs (post-processing): shrink each pair's residual from
    independence, d = pair − p_a·p_b, towards the mean residual of pairs of similar expected size p_a·p_b.

    Pairs are grouped in ``bins`` equal-count bins of p_a·p_b; in a bin with residual mean m and variance v,
    the signal variance is s² = max(v − sd², 0) and d becomes m + s²/(s² + sd²)·(d − m) (the posterior mean
    under a Gaussian prior: James–Stein). Pairs of rare codes, whose signal is far below the noise, go to
    their bin's mean; common pairs keep their measured dependence. Exact pairs (sd = 0) are left unchanged.
    """
    if not _noisy(q):
        return q
    pairs, _ = _shrink(q, bins)
    return replace(q, pairs=pairs)


def _shrink(q: MeasuredQueries, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(shrunk symmetric pairs, symmetric matrix of each pair's factor s²/(s² + sd²)) for noisy pairs."""
    p = np.clip(q.one_way, 0.0, 1.0)
    i, j = np.nonzero(q.pair_mask)
    expected = p[i] * p[j]
    d = q.pairs[i, j] - expected
    noise = pair_variance(q)[i, j]
    order = np.argsort(expected, kind="stable")
    out, factor = np.empty_like(d), np.empty_like(d)
    for chunk in np.array_split(order, min(bins, len(order))):
        m = d[chunk].mean()
        s2 = max(float(d[chunk].var()) - float(noise[chunk].mean()), 0.0)
        factor[chunk] = s2 / (s2 + noise[chunk]) if s2 > 0 else 0.0
        out[chunk] = m + factor[chunk] * (d[chunk] - m)
    pairs, k = np.zeros_like(q.pairs), np.zeros_like(q.pairs)
    pairs[i, j], k[i, j] = expected + out, factor
    return pairs + pairs.T, k + k.T


def posterior_pair_variance(q: MeasuredQueries, *, bins: int = 32, floor: float = 0.1) -> np.ndarray:
    """Per-pair variance of the :func:`shrink_pairs` estimate, k·sd² with k = s²/(s² + sd²) its bin's
    shrink factor, floored at ``floor``·sd² (the bin's mean is itself estimated); (u × u), from released
    values only. Pairs with no detectable signal get up to 1/floor times the weight of the noisy answer."""
    if not _noisy(q):
        return pair_variance(q)
    _, k = _shrink(q, bins)
    return np.maximum(k, floor) * pair_variance(q)


def pair_variance(q: MeasuredQueries) -> np.ndarray:
    """(u × u) noise variance of every pair answer (``pair_sd`` squared, broadcast when it is one value)."""
    return np.broadcast_to(np.asarray(q.pair_sd, dtype=np.float64) ** 2, q.pairs.shape).copy()


def _noisy(q: MeasuredQueries) -> bool:
    """Some measured pair carries noise (exact pairs are never denoised)."""
    return bool(q.pair_mask.any() and (pair_variance(q)[q.pair_mask] > 0).any())


def spectral_pairs(q: MeasuredQueries, *, iterations: int = 5) -> MeasuredQueries:
    """Low-rank denoising of noisy pairs (post-processing): keep the eigen-components of the residual matrix
    R = pairs − p pᵀ that stand above the noise, shrunk to their expected size.

    On the measured (symmetric, cross-block) entries the noise is a Wigner matrix with entry sd σ; with a
    fraction f of the u × u entries measured its spectrum ends near ±2s, s = σ√(u f). An eigenvalue λ with
    |λ| > 2s comes from a spike θ = (|λ| + √(λ² − 4s²))/2 whose eigenvector is only partly recovered
    (squared overlap 1 − s²/θ²), so it is replaced by θ − s²/θ (the Frobenius-optimal shrinker of the spiked
    Wigner model); the rest is dropped. Unmeasured entries (diagonal, inside a block) are filled with the
    current low-rank estimate and the decomposition repeated ``iterations`` times (hard impute). Exact pairs
    (sd = 0) are left unchanged. Measured in ``benchmarks/measure_bench.py``: on diabetes 10k × 200 at ε = 1
    its error on the pairs is larger than :func:`shrink_pairs`'s, so it is off by default."""
    if not _noisy(q):
        return q
    p = np.clip(q.one_way, 0.0, 1.0)
    sym = q.pair_mask | q.pair_mask.T
    expected = np.outer(p, p)
    R = np.where(sym, q.pairs - expected, 0.0)
    s = np.sqrt(pair_variance(q)[sym].mean() * len(p) * sym.mean())  # RMS entry sd when groups differ
    low = np.zeros_like(R)
    for _ in range(max(iterations, 1)):
        w, V = np.linalg.eigh(np.where(sym, R, low))
        keep = np.abs(w) > 2 * s
        a = np.abs(w[keep])
        theta = (a + np.sqrt(np.maximum(a**2 - 4 * s**2, 0.0))) / 2
        eta = np.sign(w[keep]) * np.maximum(theta - s**2 / np.maximum(theta, 1e-300), 0.0)
        low = (V[:, keep] * eta) @ V[:, keep].T
    return replace(q, pairs=np.where(sym, expected + (low + low.T) / 2, 0.0))


def _denoise(q: MeasuredQueries, *, shrink: bool, spectral: bool) -> MeasuredQueries:
    """Spectral low-rank part first (if on), then :func:`shrink_pairs` on what it leaves (if on)."""
    if not spectral:
        return shrink_pairs(q) if shrink else q
    low = spectral_pairs(q)
    if not shrink or low is q:
        return low
    sym = q.pair_mask | q.pair_mask.T
    part = np.where(
        sym, low.pairs - np.outer(np.clip(q.one_way, 0.0, 1.0), np.clip(q.one_way, 0.0, 1.0)), 0.0
    )
    rest = shrink_pairs(replace(q, pairs=np.where(sym, q.pairs - part, 0.0)))
    return replace(q, pairs=np.where(sym, rest.pairs + part, 0.0))


@dataclass(frozen=True)
class QueryFitConfig:
    """Fitting schedule: ``batch`` latent vectors (re-drawn every ``resample_every`` steps; 0 = one fixed
    batch), ``steps`` Adam steps at ``lr`` decayed linearly to ``lr * final_lr_fraction``, stopping early
    after ``max_seconds`` (None = no limit). Defaults measured in ``benchmarks/RESULTS.md`` (``measure-tuning``):
    1,500 steps of 1,024 fresh latent vectors (600 before) raised the diabetes 10k × 200 dimension-wise AUROC
    on the user path from 0.609 to 0.615 at ε = 1 and from 0.637 to 0.658 at ε = 3 (bench ε = 1: 0.577 →
    0.591; 2,000 steps or 3,000 × 512 did no better); a fixed batch fitted the batch but not fresh samples
    (1-way error 0.02 vs 0.005 on a toy table); lr 1e-2 fitted worse (ε = 1 AUROC 0.572 vs 0.577). ``project_pairs``: clip pair/triple targets to their bounds (see
    :func:`project`); ``shrink``: denoise noisy pairs first (:func:`shrink_pairs`; off: on diabetes 10k × 200
    at ε = 1, three seeds, the fit to the unshrunk pairs scored dimension-wise AUROC 0.600 against 0.588 and
    TSTR 0.636 against 0.615 at the same 2-/3-way TVD, RESULTS.md ``measure-tuning``: shrinking rare pairs to
    their bin's mean residual gives every rare code the same positive dependence, which the real table does
    not have); ``spectral``: remove a low-rank part first (:func:`spectral_pairs`; off: it did not help);
    ``pair_weight``: ``"noise"`` weighs each pair by its noise variance (uniform), ``"posterior"`` by the
    variance left after shrinkage (:func:`posterior_pair_variance`). ``clip_batch``: the clipped pairs'
    answers (:mod:`ehrsynth.training.clip_fit`: four more matrix products per step, each growing with the
    square of the number of codes) are read from the first ``clip_batch`` latent vectors of each batch; None:
    all of them up to :data:`CLIP_FULL_UNITS` clipped units, then fewer in proportion to the products' cost,
    at least :data:`CLIP_MIN_BATCH`. Measured (benchmarks/RESULTS.md, measure-tuning, "Fifth pass"): on
    10k × 1,000 codes, 2 threads, all 1,024 took the fit from 62 s to 176 s; on diabetes 10k × 208 (200
    codes, all 1,024 by this rule) 256 would cost dimension-wise AUROC (0.631 against 0.639, three seeds)."""

    batch: int = 1024
    steps: int = 1500
    lr: float = 3e-3
    final_lr_fraction: float = 0.1
    resample_every: int = 1
    max_seconds: float | None = None
    log_every: int = 100
    project_pairs: bool = True
    shrink: bool = False
    spectral: bool = False
    pair_weight: str = "noise"
    clip_batch: int | None = None

    def __post_init__(self) -> None:
        for name in ("batch", "steps", "log_every", "clip_batch"):
            v = getattr(self, name)
            if v is None and name == "clip_batch":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidParameterError(f"query fit {name} must be a positive integer, found {v!r}")
        if isinstance(self.resample_every, bool) or not isinstance(self.resample_every, int):
            raise InvalidParameterError(
                f"resample_every must be an integer >= 0, found {self.resample_every!r}"
            )
        if self.pair_weight not in ("noise", "posterior"):
            raise InvalidParameterError(
                f"pair_weight must be 'noise' or 'posterior', found {self.pair_weight!r}"
            )
        if self.resample_every < 0 or not self.lr > 0 or not 0 < self.final_lr_fraction <= 1:
            raise InvalidParameterError(
                f"need resample_every >= 0, lr > 0 and final_lr_fraction in (0, 1]; found "
                f"{self.resample_every!r}, {self.lr!r}, {self.final_lr_fraction!r}"
            )


#: a 1-way answer's sd is floored at this fraction of the pairs' noise sd in the loss weights. Exact 1-ways
#: (public declared marginals) beside noisy pairs would otherwise weigh ~10³× a pair answer, and the fit
#: never moves off independence: diabetes 10k × 200, pair noise of ε = 1, exact 1-ways: dimension-wise AUROC
#: 0.504 / 0.534 (seeds 0 / 1), against 0.600 with the 1-ways noised as released (benchmarks/RESULTS.md,
#: measure-tuning). On the DP default path the floor does not bind: at ε = 1 on that table the 1-way release's
#: noise is 49.6 counts, the pairs' 39.8 (floor 10).
ONE_WAY_SD_FLOOR = 0.25


#: the clipped pairs are answered on every latent vector of a batch up to this many clipped units (codes)
CLIP_FULL_UNITS = 512
#: and on at least this many
CLIP_MIN_BATCH = 256


def clip_rows(batch: int, units: int) -> int:
    """Latent vectors of a ``batch`` that answer the clipped pairs of ``units`` clipped units: all of them up
    to :data:`CLIP_FULL_UNITS`, then batch·(CLIP_FULL_UNITS / units)², at least :data:`CLIP_MIN_BATCH`."""
    if units <= CLIP_FULL_UNITS:
        return batch
    return min(batch, max(CLIP_MIN_BATCH, int(batch * (CLIP_FULL_UNITS / units) ** 2)))


def _one_way_sd(q: MeasuredQueries) -> np.ndarray:
    noisy = pair_variance(q)[q.pair_mask]  # the pairs' noise: RMS over the released groups
    floor = ONE_WAY_SD_FLOOR * float(np.sqrt(noisy.mean())) if noisy.size else 0.0
    return np.maximum(np.asarray(q.one_way_sd, dtype=np.float64), floor)


def _variance(target: np.ndarray, sd: np.ndarray | float, n: int) -> np.ndarray:
    """Noise variance plus a floor of one count²: uniform weights for exact statistics."""
    return np.broadcast_to(np.asarray(sd, dtype=np.float64) ** 2 + 1.0 / n**2, np.shape(target))


class QueryTargets:
    """The projected targets and their inverse-variance weights as tensors; ``losses(P)`` is the query loss
    (used by the measure engine's fit and by the hybrid engine's generator loss)."""

    def __init__(
        self, q: MeasuredQueries, device: torch.device, config: QueryFitConfig, seed: int = 0
    ) -> None:
        raw = q
        q = project(
            _denoise(q, shrink=config.shrink, spectral=config.spectral), pairs_too=config.project_pairs
        )

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)

        self.units = torch.as_tensor(q.units, dtype=torch.long, device=device)
        self.one = f32(q.one_way)
        self.w_one = f32(1.0 / _variance(q.one_way, _one_way_sd(q), q.n))
        mask = q.pair_mask
        self.pairs = f32(np.where(mask, q.pairs, 0.0))
        pair_var = posterior_pair_variance(raw) if config.pair_weight == "posterior" else q.pair_sd
        self.w_pairs = f32(np.where(mask, 1.0 / _variance(q.pairs, pair_var, q.n), 0.0))
        self.triples = torch.as_tensor(q.triples, dtype=torch.long, device=device)
        self.tri = f32(q.triple_freq)
        self.w_tri = f32(1.0 / _variance(q.triple_freq, q.triple_sd, q.n)) if len(q.triples) else self.tri
        self._pairs_sym = self.pairs + self.pairs.T
        self._w_sym = (self.w_pairs + self.w_pairs.T) / 2
        self.pair_mask = torch.as_tensor(mask, device=device)
        self._mask_f = self.pair_mask.to(torch.float32)
        self.n_pairs = int(mask.sum())
        self.clip = q.clip
        self.clip_batch = config.clip_batch or clip_rows(
            config.batch, int(np.sum(q.free)) if q.free is not None else 0
        )
        if q.clip is not None:
            self._init_clipped(q, device, seed)

    def _init_clipped(self, q: MeasuredQueries, device: torch.device, seed: int) -> None:
        """Index the free (clipped) and block units, cut the clipped targets and their inverse-variance
        weights into their blocks and seed the generator of the rows the clipped loss samples."""
        if q.free is None or np.shape(q.free) != np.shape(q.units):
            raise InvalidParameterError(
                "clipped pairs need `free`, one bool per indicator unit (IndicatorLayout.free); found "
                f"{None if q.free is None else np.shape(q.free)} for {len(q.units)} units"
            )
        if q.clip_pairs is None or np.shape(q.clip_pairs) != np.shape(q.pairs):
            raise InvalidParameterError(
                "clipped pairs need `clip_pairs`, the released weighted pair frequencies (u × u like `pairs`); "
                f"found {None if q.clip_pairs is None else np.shape(q.clip_pairs)}"
            )
        self.generator = torch.Generator(device=device).manual_seed(seed)
        free = np.asarray(q.free, dtype=bool)
        f, b = np.flatnonzero(free), np.flatnonzero(~free)
        self.free_idx = torch.as_tensor(f, dtype=torch.long, device=device)
        self.block_idx = torch.as_tensor(b, dtype=torch.long, device=device)
        ms = self.pair_mask | self.pair_mask.T
        on = ms.cpu().numpy()
        if q.clip_mask is not None:  # groups measured on the truncated rows only weigh nothing here
            on = on & (q.clip_mask | q.clip_mask.T)
            ms = torch.as_tensor(on, device=device)
        sym = torch.as_tensor(np.where(on, q.clip_pairs, 0.0), dtype=torch.float32, device=device)
        w = np.where(on, 1.0 / _variance(q.clip_pairs, q.clip_pair_sd, q.n), 0.0) / 2  # both triangles
        self._w_clip = torch.as_tensor(w, dtype=torch.float32, device=device)
        self.n_clip = int(np.triu(on, 1).sum())
        ft, bt = self.free_idx, self.block_idx
        self.t_ff, self.t_bf, self.t_bb = sym[ft][:, ft], sym[bt][:, ft], sym[bt][:, bt]
        self.w_ff, self.w_bf, self.w_bb = (self._w_clip[r][:, c] for r, c in ((ft, ft), (bt, ft), (bt, bt)))
        self.m_ff, self.m_bf, self.m_bb = (ms[r][:, c].float() for r, c in ((ft, ft), (bt, ft), (bt, bt)))
        self.hist: torch.Tensor | None = None
        if q.ones_hist is not None and len(q.ones_hist) > 1:
            h = np.asarray(q.ones_hist, dtype=np.float64)
            self.hist = torch.as_tensor(h, dtype=torch.float32, device=device)
            self.w_hist = float(1.0 / _variance(h, max(q.ones_hist_sd, ONES_HIST_SD_FLOOR), q.n)[0])

    def losses(self, P: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        one = P.mean(dim=0)
        e1 = one - self.one
        pair_loss, sq = self._pair_loss(P)
        stats = {
            "rmse_one_way": float(e1.detach().pow(2).mean().sqrt()),
            "rmse_pairs": (sq / max(self.n_pairs, 1)) ** 0.5,
        }
        if self.clip is not None:  # the clipped pairs: a second, weighted measurement of the same pairs
            clipped, clip_sq = clipped_pair_loss(self, P[: self.clip_batch])
            pair_loss = pair_loss + clipped
            stats["rmse_clip_pairs"] = (clip_sq / max(self.n_clip, 1)) ** 0.5
            if self.hist is not None:
                hist_loss, stats["rmse_ones_hist"] = ones_hist_loss(
                    P.index_select(1, self.free_idx), self.hist, self.w_hist
                )
                pair_loss = pair_loss + hist_loss
        loss = (self.w_one * e1**2).sum() + pair_loss
        if self.triples.numel():
            t = self.triples
            tri = (P[:, t[:, 0]] * P[:, t[:, 1]] * P[:, t[:, 2]]).mean(dim=0)
            e3 = tri - self.tri
            loss = loss + (self.w_tri * e3**2).sum()
            stats["rmse_triples"] = float(e3.detach().pow(2).mean().sqrt())
        return loss, stats

    def _pair_loss(self, P: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Σ_pairs w·(PᵀP/m − target)² and the summed squared error of the measured pairs, with the gradient
        in ONE extra matrix product: G = PᵀP/m is computed without autograd; with D = w_sym ∘ (G − target)
        (both triangles, each pair's weight halved, so L = Σ D ∘ (G − target)) the gradient is dL/dP =
        4·P·D/m, put on P through the surrogate Σ P ∘ (P_detached · 4D/m). Autograd through PᵀP would take
        two products for the backward pass."""
        m = P.shape[0]
        with torch.no_grad():
            e = P.T @ P / m - self._pairs_sym
            D = self._w_sym * e
            value = (D * e).sum()
            direction = P @ (D * (4.0 / m))
            sq = float((e * e * self._mask_f).sum())
        surrogate = (P * direction).sum()
        return value + surrogate - surrogate.detach(), sq


def indicator_probabilities(
    generator: Generator, autoencoder: Autoencoder, z: torch.Tensor, units: torch.Tensor
) -> torch.Tensor:
    """P: the decoder's probabilities of the indicator units for latent batch ``z`` (m × u)."""
    return autoencoder.head.activate(autoencoder.decoder(generator(z))).index_select(1, units)


def init_decoder_bias(autoencoder: Autoencoder, q: MeasuredQueries) -> None:
    """Start from the 1-way answers: bias logit(p) on single units, log(p) on SOFTMAX blocks (in place)."""
    p = np.clip(project(q).one_way, PROB_FLOOR, 1.0 - PROB_FLOOR)
    counts = np.bincount(q.blocks)
    in_block = counts[q.blocks] > 1
    bias = np.where(in_block, np.log(p), np.log(p) - np.log1p(-p))
    with torch.no_grad():
        b = autoencoder.decoder.bias
        b[torch.as_tensor(q.units, device=b.device)] = torch.as_tensor(bias, dtype=b.dtype, device=b.device)


def fit_queries(
    generator: Generator,
    autoencoder: Autoencoder,
    queries: MeasuredQueries,
    *,
    config: QueryFitConfig,
    generator_rng: torch.Generator,
    progress: ProgressCallback | None = None,
) -> list[dict[str, float]]:
    """Adam on generator + decoder to the queries (modules updated in place); returns the loss history.

    The history holds errors against the released answers only (functions of released values).
    """
    device = next(generator.parameters()).device
    # only clipped pairs sample rows: the default path draws nothing extra from generator_rng
    seed = int(torch.randint(0, 2**62, (1,), generator=generator_rng)) if queries.clip is not None else 0
    targets = QueryTargets(queries, device, config, seed)
    params = [*generator.parameters(), *autoencoder.decoder.parameters()]
    opt = torch.optim.Adam(params, lr=config.lr)
    sched = torch.optim.lr_scheduler.LinearLR(
        opt, start_factor=1.0, end_factor=config.final_lr_fraction, total_iters=config.steps
    )
    generator.train()
    autoencoder.train()
    start = time.perf_counter()
    history: list[dict[str, float]] = []
    report = Throttle(progress, "query fit", config.steps)  # errors against released answers only
    z = _latent(config.batch, generator.latent_dim, generator_rng, device)
    for step in range(config.steps):
        if config.resample_every and step % config.resample_every == 0 and step:
            z = _latent(config.batch, generator.latent_dim, generator_rng, device)
        P = indicator_probabilities(generator, autoencoder, z, targets.units)
        loss, stats = targets.losses(P)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        report(step + 1, stats)
        elapsed = time.perf_counter() - start
        last = step == config.steps - 1 or (config.max_seconds is not None and elapsed > config.max_seconds)
        if step % config.log_every == 0 or last:
            history.append({"step": float(step), "loss": float(loss.detach()), **stats, "seconds": elapsed})
            logger.debug("query fit step %d: %s", step, history[-1])
        if last:
            break
    return history


def _latent(m: int, dim: int, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randn(m, dim, generator=rng).to(device)


def refresh_batchnorm(
    generator: Generator, rng: torch.Generator, *, batches: int = 10, batch: int = 2048
) -> None:
    """Running BatchNorm statistics = the average of ``batches`` fresh batches' statistics (then eval mode)."""
    bns = [m for m in generator.modules() if isinstance(m, nn.BatchNorm1d)]
    device = next(generator.parameters()).device
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    generator.train()
    with torch.no_grad():
        for _ in range(batches):
            generator(_latent(batch, generator.latent_dim, rng, device))
    for bn, mom in zip(bns, momenta, strict=True):
        bn.momentum = mom
    generator.eval()
