"""DP measurement of sparse indicator marginals: the row cap K, all cross-block pairs, selected triples.

The *indicator units* of an encoded layout are every unit of its BINARY, MISSING and SOFTMAX spans (SCALED
units are not measured). Units of one SOFTMAX span form a *block* (exactly one 1 per row, so pairs inside a
block are structurally zero and never measured); every BINARY/MISSING unit is a block of its own.

Contribution bound (DESIGN §4b). Each row keeps its C block ones (C = number of SOFTMAX spans, public) and at
most ``cap`` = K ones among the BINARY/MISSING units, so it has at most L = C + K ones, all in distinct blocks.
Adding or removing one row then changes

- the vector of 1-way counts by at most √L in L2,
- the vector of **all** cross-block pair counts by at most √(L(L−1)/2) in L2 (each of its C(L, 2) pairs by 1);
  split by group (:func:`pair_group_masks`), code × code pairs by √(K(K−1)/2), block × code by √(C·K) and
  block × block by √(C(C−1)/2), so the pairs are released as one Gaussian per group with the budget of one
  release divided by measured shares (:func:`pair_group_multipliers`),
- the counts of any k selected triples by at most √min(k, C(L, 3)),

whatever the number of units. Rows above the cap are truncated in a FIXED public order (:func:`priority`):
the default ``"rarest"`` keeps the ones of the units with the lowest released 1-way frequency first (ties by
position), so the cap costs the rare units — whose pairs are most fragile — nothing, and the loss falls on
common units whose counts are large. Every truncation order drops the same *number* of ones and pairs from a
row above the cap (it keeps exactly K of its r ones, C(L, 2) of its pairs), so the order only decides where
the loss lands; random truncation would in addition make a kept code's partners look negatively correlated
with it (measured in ``benchmarks/measure_bench.py``).

Releases are Gaussian (σ = noise_multiplier × L2 sensitivity on counts) and recorded as
:class:`~ehrsynth.dp.accounting.Gaussian` mechanisms; frequencies divide by the number of rows, treated as
public as elsewhere in the library (:mod:`ehrsynth.dp.marginals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ehrsynth.dp.accounting import Gaussian
from ehrsynth.dp.pair_clip import PairClip, clipped_pair_counts
from ehrsynth.errors import InvalidParameterError
from ehrsynth.transforms.layout import Span, SpanKind

TRUNCATION_ORDERS = ("rarest", "commonest", "hash")
DEFAULT_CAP_QUANTILE = 0.9
DEFAULT_MAX_CAP = 64


@dataclass(frozen=True)
class IndicatorLayout:
    """The measured units of a layout: ``units`` (positions in the encoded matrix), ``blocks`` (block id per
    unit), ``free`` (True for BINARY/MISSING units, which the cap truncates) and ``n_fixed`` = C, the number
    of SOFTMAX spans (each contributes exactly one 1 per row)."""

    units: np.ndarray
    blocks: np.ndarray
    free: np.ndarray
    n_fixed: int

    @property
    def size(self) -> int:
        return int(self.units.size)

    def pair_mask(self) -> np.ndarray:
        """(u, u) bool: the measured pairs, i < j in different blocks (upper triangle)."""
        cross = self.blocks[:, None] != self.blocks[None, :]
        return np.triu(cross, k=1)

    @classmethod
    def from_layout(cls, layout: list[Span]) -> IndicatorLayout:
        units, blocks = indicator_layout(layout)
        kinds = {s.start + i: s.kind for s in layout for i in range(s.width)}
        free = np.asarray([kinds[int(u)] is not SpanKind.SOFTMAX for u in units], dtype=bool)
        n_fixed = sum(1 for s in layout if s.kind is SpanKind.SOFTMAX)
        return cls(units, blocks, free, n_fixed)


def indicator_layout(layout: list[Span]) -> tuple[np.ndarray, np.ndarray]:
    """(unit index array, block id array) of the indicator units, in layout order.

    Units of one SOFTMAX span share a block id; each BINARY or MISSING unit is its own block (a binary unit
    and its own missing flag are two blocks: their pair is measured like any other). SCALED units are left out.
    """
    units: list[int] = []
    blocks: list[int] = []
    block = 0
    for span in layout:
        if span.kind is SpanKind.SCALED:
            continue
        if span.kind is SpanKind.SOFTMAX:
            units.extend(range(span.start, span.stop))
            blocks.extend([block] * span.width)
        else:
            units.append(span.start)
            blocks.append(block)
        block += 1
    return np.asarray(units, dtype=np.int64), np.asarray(blocks, dtype=np.int64)


# -- the indicator matrix and its truncation -----------------------------------------------------------------
def indicator_matrix(X: np.ndarray, ind: IndicatorLayout) -> sp.csr_matrix:
    """(n × u) sparse 0/1 float32 matrix of the indicator units of the encoded ``X``.

    The bound is enforced by construction, not trusted: a SOFTMAX block keeps only its first largest unit
    (exactly one 1 for an encoded row; an all-zero block contributes nothing), BINARY/MISSING units are ``!= 0``.
    """
    X = np.asarray(X)
    n = X.shape[0]
    cols = X[:, ind.units]
    on = np.zeros(cols.shape, dtype=bool)
    on[:, ind.free] = cols[:, ind.free] != 0
    for b in np.unique(ind.blocks[~ind.free]):
        pos = np.flatnonzero(ind.blocks == b)
        block = cols[:, pos]
        first = np.argmax(block, axis=1)
        has = block[np.arange(n), first] > 0
        on[np.flatnonzero(has), pos[first[has]]] = True
    return sp.csr_matrix(on, dtype=np.float32)


def priority(
    ind: IndicatorLayout, order: str, one_way: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Rank per unit (0 = kept first) for truncation: a public order from the released 1-ways or a seeded hash.

    ``"rarest"``: lowest ``one_way`` first; ``"commonest"``: highest first; ``"hash"``: a permutation seeded by
    ``seed`` (public, independent of the data). Ties break by position, so the order is deterministic.
    """
    if order not in TRUNCATION_ORDERS:
        raise InvalidParameterError(f"truncation order must be one of {TRUNCATION_ORDERS}, found {order!r}")
    u = ind.size
    if order == "hash":
        perm = np.random.default_rng(seed).permutation(u)
    else:
        if one_way is None or np.shape(one_way) != (u,):
            raise InvalidParameterError(
                f"truncation order {order!r} needs the released 1-way frequencies of all {u} indicator units"
            )
        key = np.asarray(one_way, dtype=np.float64)
        perm = np.lexsort((np.arange(u), key if order == "rarest" else -key))
    rank = np.empty(u, dtype=np.int64)
    rank[perm] = np.arange(u)
    return rank


def truncate_rows(M: sp.csr_matrix, ind: IndicatorLayout, cap: int, rank: np.ndarray) -> sp.csr_matrix:
    """Keep every block one and, per row, the ``cap`` free ones of lowest ``rank`` (fixed public order)."""
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 0:
        raise InvalidParameterError(f"cap must be an integer >= 0, found {cap!r}")
    M = sp.csr_matrix(M)
    rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
    cols = M.indices
    free = ind.free[cols]
    key = np.where(free, rank[cols], -1)  # block ones sort first and are always kept
    order = np.lexsort((key, rows))
    rows_s, cols_s, free_s = rows[order], cols[order], free[order]
    n = M.shape[0]
    pos = np.arange(rows_s.size) - np.searchsorted(rows_s, np.arange(n))[rows_s]
    n_block = np.bincount(rows_s[~free_s], minlength=n)  # block ones sort first in each row
    pos_free = pos - n_block[rows_s]
    keep = ~free_s | (pos_free < cap)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    return sp.csr_matrix((data, (rows_s[keep], cols_s[keep])), shape=M.shape)


def free_ones_per_row(M: sp.csr_matrix, ind: IndicatorLayout) -> np.ndarray:
    return np.asarray(M[:, np.flatnonzero(ind.free)].sum(axis=1)).ravel().astype(np.int64)


# -- sensitivities ------------------------------------------------------------------------------------------------
def one_way_sensitivity(ones: int) -> float:
    return math.sqrt(ones)


def pair_sensitivity(ones: int) -> float:
    """L2 change of all pair counts when a row with at most ``ones`` ones (distinct blocks) is added/removed."""
    return math.sqrt(ones * (ones - 1) / 2)


def triple_sensitivity(ones: int, k: int) -> float:
    """L2 change of ``k`` triple counts: a row is in at most min(k, C(ones, 3)) of them."""
    return math.sqrt(min(k, math.comb(ones, 3)))


# -- releases -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OnesHistogram:
    """Released (noisy) histogram of free ones per row over 0..max_cap (the last bin holds the rows above).

    Any number of caps can be read from it (post-processing): a high quantile for the 1-way release, whose
    sensitivity √(C + K) grows slowly, and a lower one for the pairs, whose √(L(L−1)/2) grows like K.
    """

    counts: np.ndarray
    n: int

    def quantile(self, q: float) -> int:
        """First bin where the noisy cumulative count reaches q·n (n public; bins are not clipped at 0, which
        would pile the positive noise of empty bins into the tail); in [1, max_cap]."""
        if not 0 < q <= 1:
            raise InvalidParameterError(f"cap quantile must be in (0, 1], found {q!r}")
        cum = np.maximum.accumulate(np.cumsum(self.counts))
        k = int(np.searchsorted(cum, q * self.n - 1e-9, side="left"))
        return max(1, min(k, self.counts.size - 1))


def release_ones_histogram(
    ones_per_row: np.ndarray,
    *,
    noise_multiplier: float | None,
    rng: np.random.Generator,
    max_cap: int = DEFAULT_MAX_CAP,
) -> tuple[OnesHistogram, Gaussian | None]:
    """Gaussian histogram of free ones per row (exact when ``noise_multiplier`` is None).

    Values above ``max_cap`` fall in the last bin, so one row changes one bin by 1: L2 sensitivity 1.
    """
    clipped = np.minimum(np.asarray(ones_per_row, dtype=np.int64), max_cap)
    hist = np.bincount(clipped, minlength=max_cap + 1).astype(np.float64)
    mech = None
    if noise_multiplier is not None:
        hist = hist + rng.normal(0.0, noise_multiplier, size=hist.size)
        mech = Gaussian("measure:row_cap", noise_multiplier, count=1)
    return OnesHistogram(hist, len(clipped)), mech


def release_row_cap(
    ones_per_row: np.ndarray,
    *,
    noise_multiplier: float | None,
    rng: np.random.Generator,
    quantile: float = DEFAULT_CAP_QUANTILE,
    max_cap: int = DEFAULT_MAX_CAP,
) -> tuple[int, Gaussian | None]:
    """K: the ``quantile`` of free ones per row from :func:`release_ones_histogram`; K in [1, max_cap]."""
    hist, mech = release_ones_histogram(
        ones_per_row, noise_multiplier=noise_multiplier, rng=rng, max_cap=max_cap
    )
    return hist.quantile(quantile), mech


PAIR_GROUPS = ("free", "mixed", "fixed")


@dataclass(frozen=True)
class PairRelease:
    """Noisy cross-block pair frequencies: ``freq`` (u × u, symmetric, zero on unmeasured pairs), their noise
    ``sd`` on the frequency scale (u × u, symmetric; 0 when exact), ``mask`` the measured pairs (upper
    triangle) and one mechanism per released group (empty when exact)."""

    freq: np.ndarray
    sd: np.ndarray
    mask: np.ndarray
    mechanisms: tuple[Gaussian, ...]


def pair_counts(M: sp.csr_matrix) -> np.ndarray:
    """Dense (u × u) co-occurrence counts XᵀX of the truncated indicator matrix (float64)."""
    M = sp.csr_matrix(M, dtype=np.float32)
    return np.asarray((M.T @ M).toarray(), dtype=np.float64)


def pair_group_masks(ind: IndicatorLayout) -> dict[str, np.ndarray]:
    """The measured pairs (upper triangle, cross-block) split by what a row puts in them: ``free`` (two
    BINARY/MISSING units: at most C(K, 2) per row), ``mixed`` (a SOFTMAX unit and a free one: at most C·K) and
    ``fixed`` (two SOFTMAX units: exactly C(C, 2))."""
    mask, f = ind.pair_mask(), ind.free
    free = mask & f[:, None] & f[None, :]
    fixed = mask & ~f[:, None] & ~f[None, :]
    return {"free": free, "mixed": mask & ~free & ~fixed, "fixed": fixed}


def pair_group_sensitivities(n_fixed: int, cap: int) -> dict[str, float]:
    """L2 change of each group's pair counts when one row (C = ``n_fixed`` block ones, ≤ K = ``cap`` free
    ones) is added or removed; the squares sum to C(C + K, 2), the bound of all pairs together."""
    c, k = n_fixed, cap
    return {
        "free": math.sqrt(k * (k - 1) / 2),
        "mixed": math.sqrt(c * k),
        "fixed": math.sqrt(c * (c - 1) / 2),
    }


#: μ² shares of the pair budget per group (renormalised over the groups a row can reach). Measured,
#: fidelity_bench diabetes × 208, ε = 1, dimension-wise AUROC, three seeds (benchmarks/RESULTS.md,
#: measure-tuning): 40k patients 0.694 with one release for all pairs (every pair the same noise, which is
#: shares ∝ Δ² ≈ 0.16 / 0.53 / 0.31) → these shares; 10k patients 0.615 → 0.617 (0.609 for shares ∝ Δ·√N, the
#: minimum summed noise variance; 0.600 for 0.2 / 0.75 / 0.05). Code pairs carry the dependence between codes;
#: block × block pairs are few and every row fills them, so their counts are large and need little budget.
PAIR_GROUP_SHARES: dict[str, float] = {"free": 0.5, "mixed": 0.45, "fixed": 0.05}


def pair_group_multipliers(
    ind: IndicatorLayout,
    cap: int,
    noise_multiplier: float,
    shares: dict[str, float] | None = None,
    sens: dict[str, float] | None = None,
) -> dict[str, float]:
    """Split ONE pair release's budget (noise multiplier σ, i.e. μ² = 1/σ²) between the groups that hold
    pairs a row can reach (Δ_g > 0 and at least one pair): group g gets its μ² share s_g of ``shares``
    (default :data:`PAIR_GROUP_SHARES`), renormalised over those groups, and the multiplier σ/√s_g, rounded up
    to 6 significant digits (so Σ 1/σ_g² ≤ 1/σ²: the groups together spend at most what the single release
    would). A table of codes only puts the whole budget on its code pairs, as one release did.
    """
    shares = PAIR_GROUP_SHARES if shares is None else shares
    masks = pair_group_masks(ind)
    sens = pair_group_sensitivities(ind.n_fixed, cap) if sens is None else sens
    weight = {g: float(shares.get(g, 0.0)) for g in PAIR_GROUPS if sens[g] > 0 and masks[g].any()}
    total = sum(weight.values())
    return {g: _round_up(noise_multiplier * math.sqrt(total / w)) for g, w in weight.items() if w > 0}


def _round_up(x: float) -> float:
    """``x`` rounded UP to 6 significant digits (a recorded multiplier never below the calibrated one)."""
    r = float(f"{x:.6g}")
    return r if r >= x else float(f"{x * (1 + 1e-6):.6g}")


def pair_mechanisms(
    ind: IndicatorLayout,
    ones: int,
    noise_multiplier: float,
    name: str = "measure:pairs",
    sens: dict[str, float] | None = None,
    shares: dict[str, float] | None = None,
) -> tuple[Gaussian, ...]:
    """The mechanisms :func:`release_pairs` records for a release at ``noise_multiplier``: one Gaussian per
    group, named ``{name}:{group}``."""
    mult = pair_group_multipliers(ind, _cap_of(ind, ones), noise_multiplier, shares, sens)
    return tuple(Gaussian(f"{name}:{g}", m, count=1) for g, m in mult.items())


def _cap_of(ind: IndicatorLayout, ones: int) -> int:
    cap = ones - ind.n_fixed
    if cap < 0:
        raise InvalidParameterError(
            f"ones per row ({ones}) is below the {ind.n_fixed} SOFTMAX blocks every row fills; pass C + K"
        )
    return cap


def release_pairs(
    M: sp.csr_matrix,
    ind: IndicatorLayout,
    *,
    ones: int,
    noise_multiplier: float | None,
    rng: np.random.Generator,
    name: str = "measure:pairs",
    clip: PairClip | None = None,
    shares: dict[str, float] | None = None,
) -> PairRelease:
    """All cross-block pair counts of the truncated ``M`` (each row ≤ ``ones`` = C + K ones), released as one
    Gaussian per pair group (:func:`pair_group_masks`) with the budget of ONE release at ``noise_multiplier``
    split by :func:`pair_group_multipliers` (``shares``: default :data:`PAIR_GROUP_SHARES`; a group with no
    share is not released). A group no row can reach (e.g. code pairs when K = 1) is not
    measured: it is left out of ``mask``. Exact (all pairs, sd 0) when ``noise_multiplier`` is None. With
    ``clip`` (:mod:`ehrsynth.dp.pair_clip`) ``M`` is NOT truncated: its rows' pairs are weighed
    down to the clip's bounds, which are then the groups' sensitivities."""
    n = M.shape[0]
    counts = pair_counts(M) if clip is None else clipped_pair_counts(M, ind.free, clip)
    mask = ind.pair_mask()
    sd = np.zeros(counts.shape)
    mechanisms: tuple[Gaussian, ...] = ()
    if noise_multiplier is None:
        upper = np.where(mask, counts, 0.0)
    else:
        cap = _cap_of(ind, ones)
        masks = pair_group_masks(ind)
        sens = pair_group_sensitivities(ind.n_fixed, cap) if clip is None else clip.sensitivities()
        mechanisms = pair_mechanisms(ind, ones, noise_multiplier, name, sens, shares)
        upper = np.zeros(counts.shape)
        mask = np.zeros(counts.shape, dtype=bool)
        for mech in mechanisms:
            g = mech.name.rsplit(":", 1)[1]
            sigma = mech.noise_multiplier * sens[g]
            m = masks[g]
            upper[m] = counts[m] + rng.normal(0.0, sigma, size=int(m.sum()))
            sd[m] = sigma / n
            mask |= m
    freq = (upper + upper.T) / max(n, 1)
    return PairRelease(freq, sd + sd.T, mask, mechanisms)


def triple_counts(M: sp.csr_matrix, triples: np.ndarray, *, chunk: int = 512) -> np.ndarray:
    """Rows with all three units of each (a, b, c) on, for a (t × 3) index array."""
    triples = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    csc = sp.csc_matrix(M, dtype=np.float32)
    out = np.zeros(len(triples), dtype=np.float64)
    for s in range(0, len(triples), chunk):
        t = triples[s : s + chunk]
        prod = csc[:, t[:, 0]].multiply(csc[:, t[:, 1]]).multiply(csc[:, t[:, 2]])
        out[s : s + chunk] = np.asarray(prod.sum(axis=0)).ravel()
    return out


def release_triples(
    M: sp.csr_matrix,
    triples: np.ndarray,
    *,
    ones: int,
    noise_multiplier: float | None,
    rng: np.random.Generator,
    name: str,
) -> tuple[np.ndarray, float, Gaussian | None]:
    """Noisy "all three on" frequencies of ``triples`` in one Gaussian release: (freq, sd, mechanism)."""
    n = M.shape[0]
    counts = triple_counts(M, triples)
    if noise_multiplier is None:
        return counts / max(n, 1), 0.0, None
    sigma = noise_multiplier * triple_sensitivity(ones, len(counts))
    noisy = counts + rng.normal(0.0, sigma, size=counts.size)
    return noisy / n, sigma / n, Gaussian(name, noise_multiplier, count=1)


def release_one_ways(
    M: sp.csr_matrix, *, ones: int, noise_multiplier: float | None, rng: np.random.Generator
) -> tuple[np.ndarray, float, Gaussian | None]:
    """(freq, sd, mechanism) of every indicator unit's count of the truncated ``M`` (each row ≤ ``ones`` ones):
    one Gaussian release with L2 sensitivity √(C + K); exact when ``noise_multiplier`` is None.

    The schema's 1-way release (:mod:`ehrsynth.dp.one_way`) normally provides these; the measure engine runs
    this one only for units the schema carries no marginal for (a complete declared schema fitted with
    ``calibrate_marginals=False``, where that release is skipped), and the benchmarks use it as a stand-in.
    """
    n = M.shape[0]
    counts = np.asarray(M.sum(axis=0), dtype=np.float64).ravel()
    if noise_multiplier is None:
        return counts / max(n, 1), 0.0, None
    sigma = noise_multiplier * one_way_sensitivity(ones)
    noisy = counts + rng.normal(0.0, sigma, size=counts.size)
    return noisy / n, sigma / n, Gaussian("measure:one_way", noise_multiplier, count=1)
