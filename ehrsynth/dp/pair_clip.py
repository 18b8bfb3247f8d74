"""Per-row clipping of the pair counts (every row keeps all its codes; rows with many codes count for less),
measured on the DP default path BESIDE the pairs of rows truncated to K codes
(:func:`~ehrsynth.training.measure_engine.run_measure_engine` with ``clip``).

Truncating rows to K codes (:func:`~ehrsynth.dp.sparse_marginals.truncate_rows`) bounds a row's code × code
pair vector by √(K(K−1)/2), so the noise on every pair is set by the rows with the most codes, while most
rows have far fewer (diabetes patients: median 3 of 200 codes, 90th percentile 6, so K = 6). Clipping instead
scales row r's pair vector by a weight that brings its L2 norm down to at most a bound B (DP-SGD's clipping,
applied to a sufficient statistic):

- code × code pairs of a row with k free ones (norm √(k(k−1)/2)): w_free(k) = min(1, B_free / √(k(k−1)/2));
- block × code pairs (norm √(c·k) with c ≤ C block ones): w_mixed(k) = min(1, B_mixed / √(C·k));
- block × block pairs do not depend on k and are not clipped (sensitivity √(C(C−1)/2)).

Adding or removing one row then changes the code × code counts by at most B_free and the block × code counts
by at most B_mixed in L2, whatever its number of codes: the released counts are Σ_r w(k_r)·x_r x_rᵀ plus
Gaussian noise. The fit compares the released sums with the same weighted sums over the model's rows
(:mod:`ehrsynth.training.clip_fit`). The bounds are post-processing of the released histogram of ones per
row (:func:`choose_clip`).

Measured (benchmarks/RESULTS.md, measure-tuning, "Fourth pass" and "Fifth pass"), diabetes 10k × 208,
ε = 1, three seeds, dimension-wise AUROC: truncated pairs alone 0.617; clipped pairs alone 0.651, but they
overstate planted dependence (a sparse table of two 6-code blocks: within-block correlation 0.32–0.34
against 0.21 real; the ACTG 175 demo table lost its correlation structure). A weighted release lets a model
whose rows have other sizes match it with other pair counts (its rows' sizes spread far wider than the real
ones). Both releases with one budget (half each, ``CLIP_SHARE``) pin the plain counts and keep most of the
gain: 0.643 on diabetes, planted within-block correlation within 8–24 % of the real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ehrsynth.errors import InvalidParameterError

#: the candidate bounds of :func:`choose_clip`: the norms of rows with up to this many free ones
MAX_CLIP_ONES = 64


@dataclass(frozen=True)
class PairClip:
    """L2 bounds on one row's code × code (``free``) and block × code (``mixed``) pair counts; ``n_fixed`` = C,
    the block (SOFTMAX) ones every row has."""

    free: float
    mixed: float
    n_fixed: int

    def __post_init__(self) -> None:
        if not (self.free > 0 and self.mixed > 0 and self.n_fixed >= 0):
            raise InvalidParameterError(
                f"pair clipping needs bounds > 0 and n_fixed >= 0; found free={self.free!r}, "
                f"mixed={self.mixed!r}, n_fixed={self.n_fixed!r}"
            )

    def sensitivities(self) -> dict[str, float]:
        """L2 change of each pair group's counts (:func:`~ehrsynth.dp.sparse_marginals.pair_group_masks`)."""
        c = self.n_fixed
        return {"free": self.free, "mixed": self.mixed, "fixed": math.sqrt(c * (c - 1) / 2)}

    def weights(self, ones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(w_free, w_mixed) of rows with ``ones`` free ones (1 where a row is within the bound)."""
        k = np.asarray(ones, dtype=np.float64)
        w_free = np.minimum(1.0, self.free / np.sqrt(np.maximum(k * (k - 1) / 2, 1.0)))
        w_mixed = np.minimum(1.0, self.mixed / np.sqrt(np.maximum(self.n_fixed * k, 1.0)))
        return w_free, w_mixed


def choose_clip(hist: np.ndarray, n_fixed: int, max_ones: int = MAX_CLIP_ONES) -> PairClip:
    """The bounds that maximise the released signal per unit of noise, Σ_k h(k)·w(k)·|pairs(k)| / B, over B =
    the norm of a row with 2..``max_ones`` free ones (code × code) or 1..``max_ones`` (block × code), from
    the released histogram ``hist`` of free ones per row (post-processing; negative noisy bins count as 0).

    On diabetes 10k × 200 (median 3 codes, 59 % of patients with exactly 3) it picks the norms of a row with 2
    codes (B_free = 1) and with 1 code (B_mixed = √C): a row with 3 codes counts 0.58 in code pairs."""
    h = np.maximum(np.asarray(hist, dtype=np.float64), 0.0)
    k = np.arange(h.size, dtype=np.float64)
    top = max(min(max_ones, h.size - 1), 2)

    def best(size: np.ndarray, norms: list[float]) -> float:
        scores = np.asarray([(h * np.minimum(size, b * np.sqrt(size))).sum() / b for b in norms])
        # ties (rows of one size: any bound up to their norm releases the same signal per noise) go to
        # the largest bound, which clips fewest rows
        return norms[int(np.flatnonzero(scores >= scores.max() * (1 - 1e-9))[-1])]

    free = best(k * (k - 1) / 2, [math.sqrt(j * (j - 1) / 2) for j in range(2, top + 1)])
    mixed = best(k, [math.sqrt(j) for j in range(1, top + 1)]) * math.sqrt(max(n_fixed, 1))
    return PairClip(free, mixed, n_fixed)


def clipped_pair_counts(M: sp.csr_matrix, free: np.ndarray, clip: PairClip) -> np.ndarray:
    """(u × u) weighted co-occurrence counts of the UNtruncated indicator matrix ``M`` (``free``: bool per
    unit, the clipped BINARY/MISSING units): free × free entries Σ_r w_free(k_r)·x_ra·x_rb, entries with one
    free unit Σ_r w_mixed(k_r)·x_ra·x_rb, the others plain counts."""
    M = sp.csr_matrix(M, dtype=np.float64)
    free = np.asarray(free, dtype=bool)
    ones = np.asarray(M[:, np.flatnonzero(free)].sum(axis=1)).ravel()
    w_free, w_mixed = clip.weights(ones)
    plain = np.asarray((M.T @ M).toarray())
    wf = np.asarray((M.T @ sp.diags(w_free) @ M).toarray())
    wm = np.asarray((M.T @ sp.diags(w_mixed) @ M).toarray())
    both, one = free[:, None] & free[None, :], free[:, None] ^ free[None, :]
    return np.where(both, wf, np.where(one, wm, plain))
