"""Adaptive rounds (AIM / GEM style): pick the worst-fitted 3-way queries with the exponential mechanism.

Candidates are triples (a, b, c) of indicator units from three different blocks, drawn with a seeded public
generator weighted by the *released* pair frequencies (post-processing: a triple whose pairs are all near 0
has a near-0 "all three on" cell, which the pairs already pin down). A query's answer is the number of rows
with all three units on (of the truncated indicator matrix); the 2×2×2 marginal follows from it, the pairs
and the 1-ways.

Score of a candidate: ``|count(D) − n·q|`` with q the current fit's answer (a function of earlier releases
only, so rounds compose adaptively) and n public. Adding or removing one row changes any count by at most 1,
so the score has sensitivity Δ = 1, and choosing with probability ∝ exp(ε₀·score / (2Δ)) is ε₀-DP
(McSherry & Talwar 2007). ``k`` selections without replacement are the top-k of Gumbel-perturbed scores
(the Gumbel-max trick, equivalent to k sequential exponential mechanisms, "peeling"), i.e. k ε₀-DP steps.

Accounting: any ε₀-DP mechanism is dominated by randomized response with ε₀ (Kairouz, Oh & Viswanath 2015),
which is μ-GDP with μ = 2 Φ⁻¹(e^ε₀ / (1 + e^ε₀)) (Dong, Roth & Su 2022) — exactly the privacy of a Gaussian
mechanism with noise multiplier 1/μ. So each selection is recorded as ``Gaussian(name, 1/μ)``: valid for any
accountant that composes Gaussians (PRV, RDP, dp-accounting's PLD), and conservative (the exponential
mechanism's bounded range would allow less).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

from ehrsynth.dp.sparse_marginals import IndicatorLayout
from ehrsynth.errors import InvalidParameterError


def em_epsilon(noise_multiplier: float) -> float:
    """ε₀ of the exponential mechanism whose dominating Gaussian has ``noise_multiplier`` (μ = 1/σ)."""
    if not (math.isfinite(noise_multiplier) and noise_multiplier > 0):
        raise InvalidParameterError(f"noise_multiplier must be positive, found {noise_multiplier!r}")
    return float(logit(norm.cdf(0.5 / noise_multiplier)))


def em_noise_multiplier(epsilon0: float) -> float:
    """The Gaussian noise multiplier 1/μ that dominates an ε₀-DP mechanism (inverse of :func:`em_epsilon`)."""
    if not (math.isfinite(epsilon0) and epsilon0 > 0):
        raise InvalidParameterError(f"epsilon0 must be positive, found {epsilon0!r}")
    return float(1.0 / (2.0 * norm.ppf(expit(epsilon0))))


def candidate_triples(
    ind: IndicatorLayout, pair_freq: np.ndarray, n_candidates: int, rng: np.random.Generator
) -> np.ndarray:
    """Up to ``n_candidates`` distinct triples (sorted unit positions, t × 3) from three different blocks.

    (a, b) is drawn ∝ its released pair frequency (clipped at 0), c ∝ min(freq(a, c), freq(b, c)); a small
    uniform floor keeps every triple possible. Uses released values and ``rng`` only (no data access).
    """
    u = ind.size
    blocks = ind.blocks
    if len(np.unique(blocks)) < 3:
        return np.zeros((0, 3), dtype=np.int64)
    mask = ind.pair_mask()
    w = np.where(mask, np.clip(pair_freq, 0.0, None), 0.0)
    w = np.where(mask, w + 1e-3 * max(float(w.max()), 1e-12) / max(u, 1), 0.0).ravel()
    draws = rng.choice(w.size, size=2 * n_candidates, p=w / w.sum())
    a, b = np.divmod(draws, u)
    fa, fb = np.clip(pair_freq[a], 0.0, None), np.clip(pair_freq[b], 0.0, None)
    wc = np.minimum(fa, fb) + 1e-6
    wc[(blocks[None, :] == blocks[a][:, None]) | (blocks[None, :] == blocks[b][:, None])] = 0.0
    cum = np.cumsum(wc, axis=1)
    c = (cum < rng.random(len(a))[:, None] * cum[:, -1:]).sum(axis=1)
    triples = np.sort(np.stack([a, b, np.minimum(c, u - 1)], axis=1), axis=1)
    ok = (blocks[triples[:, 0]] != blocks[triples[:, 1]]) & (blocks[triples[:, 1]] != blocks[triples[:, 2]])
    ok &= blocks[triples[:, 0]] != blocks[triples[:, 2]]
    uniq = np.unique(triples[ok], axis=0)
    if len(uniq) > n_candidates:
        uniq = uniq[np.sort(rng.choice(len(uniq), n_candidates, replace=False))]
    return uniq


def select_top_k(
    scores: np.ndarray, k: int, *, epsilon0: float, sensitivity: float, rng: np.random.Generator
) -> np.ndarray:
    """Indices of ``k`` candidates picked by k ε₀-DP exponential mechanisms without replacement (Gumbel top-k)."""
    scores = np.asarray(scores, dtype=np.float64)
    k = min(int(k), scores.size)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    noisy = epsilon0 * scores / (2.0 * sensitivity) + rng.gumbel(size=scores.size)
    return np.argsort(-noisy, kind="stable")[:k]


def triple_model_answers(P: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """Mean of P[:, a] · P[:, b] · P[:, c] over the rows of the model's probabilities P (m × u)."""
    t = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    return (P[:, t[:, 0]] * P[:, t[:, 1]] * P[:, t[:, 2]]).mean(axis=0)
