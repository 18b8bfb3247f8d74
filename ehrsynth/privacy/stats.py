"""Statistics for attacks: ROC/AUC with ties, TPR at a fixed FPR, bootstrap intervals, exact intervals for
rates.

Shared by the audit and by canary-based DP audits (``dp_audit``): :func:`clopper_pearson` and
:func:`epsilon_lower_bound` give the empirical-epsilon bound, :func:`roc_summary` the AUC with a stratified
bootstrap interval and TPR at chosen FPRs.

Conventions: *higher score = more likely a member*; ``pos`` are members (training records), ``neg`` are
non-members (holdout records). TPR at FPR ``a`` is read off the empirical ROC curve, linear between its
points (what a rule achieves that randomises on tied scores; no smoothing beyond that). Bootstraps resample
members and non-members separately (stratified) and are seeded by the caller's generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ehrsynth.errors import InvalidDataError, InvalidParameterError

Interval = tuple[float, float]


# -- ROC with ties ------------------------------------------------------------------------------------------


@dataclass
class GroupedScores:
    """Scores of members and non-members collapsed onto their distinct values (ascending)."""

    values: np.ndarray
    pos_counts: np.ndarray
    neg_counts: np.ndarray
    pos_groups: np.ndarray = field(repr=False)
    neg_groups: np.ndarray = field(repr=False)

    @property
    def n_pos(self) -> int:
        return int(self.pos_counts.sum())

    @property
    def n_neg(self) -> int:
        return int(self.neg_counts.sum())


def group_scores(pos: np.ndarray, neg: np.ndarray) -> GroupedScores:
    pos = np.asarray(pos, dtype=np.float64).ravel()
    neg = np.asarray(neg, dtype=np.float64).ravel()
    if len(pos) == 0 or len(neg) == 0:
        raise InvalidDataError("ROC statistics need at least one member and one non-member score")
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise InvalidDataError("attack scores must be finite")
    values, inverse = np.unique(np.concatenate([pos, neg]), return_inverse=True)
    g = len(values)
    pos_groups, neg_groups = inverse[: len(pos)], inverse[len(pos) :]
    return GroupedScores(
        values=values,
        pos_counts=np.bincount(pos_groups, minlength=g).astype(np.float64),
        neg_counts=np.bincount(neg_groups, minlength=g).astype(np.float64),
        pos_groups=pos_groups,
        neg_groups=neg_groups,
    )


def _rates_from_counts(cp: np.ndarray, cn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) of the rules "score >= value_g" for g from the highest value down, with (0, 0) prepended."""
    tp = np.cumsum(cp[..., ::-1], axis=-1)
    fp = np.cumsum(cn[..., ::-1], axis=-1)
    zeros = np.zeros((*cp.shape[:-1], 1))
    tpr = np.concatenate([zeros, tp / cp.sum(axis=-1, keepdims=True)], axis=-1)
    fpr = np.concatenate([zeros, fp / cn.sum(axis=-1, keepdims=True)], axis=-1)
    return fpr, tpr


def _roc_stats(cp: np.ndarray, cn: np.ndarray, fprs: Sequence[float]) -> tuple[np.ndarray, list[np.ndarray]]:
    """AUC (ties count 1/2) and TPR at each FPR in ``fprs`` for count vectors of shape (..., G) over ascending
    score values. TPR is read where the ROC curve crosses the FPR, linear across a run of tied scores (what a
    rule that randomises on the tie achieves). Two cumulative sums per call, so replicates stay cheap."""
    cp_r, cn_r = cp[..., ::-1], cn[..., ::-1]
    n_pos = cp.sum(axis=-1, keepdims=True)
    n_neg = cn.sum(axis=-1, keepdims=True)
    tp = np.cumsum(cp_r, axis=-1)
    fp = np.cumsum(cn_r, axis=-1)
    auc_values = ((cp_r * (n_neg - fp + 0.5 * cn_r)).sum(axis=-1, keepdims=True) / (n_pos * n_neg))[..., 0]
    zeros = np.zeros((*cp.shape[:-1], 1))
    fp0 = np.concatenate([zeros, fp], axis=-1)
    tp0 = np.concatenate([zeros, tp], axis=-1)
    g = cp.shape[-1]
    tprs = []
    for target in fprs:
        limit = target * n_neg + 1e-9
        j = np.minimum(
            (fp <= limit).sum(axis=-1, keepdims=True), g
        )  # points (incl. origin) not beyond target
        f0, t0 = np.take_along_axis(fp0, j, -1), np.take_along_axis(tp0, j, -1)
        jn = np.minimum(j + 1, g)
        f1, t1 = np.take_along_axis(fp0, jn, -1), np.take_along_axis(tp0, jn, -1)
        frac = np.where(f1 > f0, np.clip((limit - f0) / np.where(f1 > f0, f1 - f0, 1.0), 0.0, 1.0), 0.0)
        tprs.append(((t0 + frac * (t1 - t0)) / n_pos)[..., 0])
    return np.asarray(auc_values), tprs


def _auc_from_counts(cp: np.ndarray, cn: np.ndarray) -> np.ndarray:
    return _roc_stats(cp, cn, ())[0]


def _tpr_at_from_counts(cp: np.ndarray, cn: np.ndarray, fpr_target: float) -> np.ndarray:
    return _roc_stats(cp, cn, (fpr_target,))[1][0]


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney; ties count one half)."""
    g = group_scores(pos, neg)
    return float(_auc_from_counts(g.pos_counts, g.neg_counts))


def roc_curve(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) points of the empirical ROC curve from (0, 0) to (1, 1)."""
    g = group_scores(pos, neg)
    return _rates_from_counts(g.pos_counts, g.neg_counts)


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float) -> float:
    """TPR of the ROC curve at false-positive rate ``fpr`` (linear across ties)."""
    g = group_scores(pos, neg)
    return float(_tpr_at_from_counts(g.pos_counts, g.neg_counts, fpr))


# -- bootstrap --------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """A point estimate with a two-sided percentile-bootstrap (or exact) interval and a standard error."""

    value: float
    ci: Interval
    se: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci": list(self.ci), "se": self.se}


@dataclass
class RocSummary:
    """AUC and TPR at fixed FPRs, each with a stratified-bootstrap interval; ROC points for plots."""

    auc: Estimate
    tpr_at: dict[float, Estimate]
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    n_pos: int = 0
    n_neg: int = 0


def _resample_counts(
    counts: np.ndarray, groups: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` bootstrap replicates of the per-value counts (resampling individuals with replacement)."""
    n, n_values = len(groups), len(counts)
    if n_values * 4 <= n:  # few distinct values: multinomial over values is cheaper and identical in law
        return rng.multinomial(n, counts / n, size=size).astype(np.float64)
    out = np.empty((size, n_values))
    for i in range(size):
        out[i] = np.bincount(groups[rng.integers(0, n, n)], minlength=n_values)
    return out


def _percentile_interval(samples: np.ndarray, confidence: float) -> Interval:
    lo, hi = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InvalidParameterError(f"confidence must be in (0, 1), found {confidence!r}")


def roc_summary(
    pos: np.ndarray,
    neg: np.ndarray,
    *,
    fprs: Sequence[float] = (0.01, 0.001),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    rng: np.random.Generator,
) -> RocSummary:
    """AUC and TPR at each of ``fprs`` with stratified percentile-bootstrap intervals.

    Each replicate works on counts per distinct score value (resampling individuals with replacement, or the
    equivalent multinomial draw when there are few distinct values), so it costs O(n) at most.
    """
    _check_confidence(confidence)
    if n_bootstrap < 10:
        raise InvalidParameterError(f"n_bootstrap must be at least 10, found {n_bootstrap}")
    g = group_scores(pos, neg)
    cp, cn = g.pos_counts, g.neg_counts
    n_pos, n_neg = g.n_pos, g.n_neg
    point_auc_arr, point_tprs = _roc_stats(cp, cn, fprs)
    point_auc = float(point_auc_arr)
    points_tpr = {f: float(t) for f, t in zip(fprs, point_tprs, strict=True)}
    aucs = np.empty(n_bootstrap)
    tprs = {f: np.empty(n_bootstrap) for f in fprs}
    chunk = max(1, min(n_bootstrap, int(2e6 // max(1, len(cp)))))  # bounded memory per chunk
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        bp = _resample_counts(cp, g.pos_groups, size, rng)
        bn = _resample_counts(cn, g.neg_groups, size, rng)
        a, ts = _roc_stats(bp, bn, fprs)
        aucs[start : start + size] = a
        for f, t in zip(fprs, ts, strict=True):
            tprs[f][start : start + size] = t
    fpr_pts, tpr_pts = _rates_from_counts(cp, cn)
    return RocSummary(
        auc=Estimate(point_auc, _percentile_interval(aucs, confidence), float(aucs.std(ddof=1))),
        tpr_at={
            f: Estimate(points_tpr[f], _percentile_interval(tprs[f], confidence), float(tprs[f].std(ddof=1)))
            for f in fprs
        },
        fpr=fpr_pts,
        tpr=tpr_pts,
        n_pos=n_pos,
        n_neg=n_neg,
    )


def excess_risk(
    k_attack: int,
    n_attack: int,
    k_control: int,
    n_control: int,
    *,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> Estimate:
    """``(a - c) / (1 - c)`` for success rates ``a = k_attack / n_attack`` and ``c = k_control / n_control``.

    The interval is Newcombe's interval for ``a - c`` (the one the verdict's significance test uses) divided by
    ``1 - c``, clipped to [-1, 1]: it never collapses to a point at rates of 0 or 1 (a parametric bootstrap gave
    [1, 1] for 3 of 3 successes) and never leaves the range (it gave [-1.75, 0.5] for a control near 1). When
    the control rate is 1 there is no room above it and the risk is 0. ``n_bootstrap`` and ``rng`` are unused
    (kept for callers written against the bootstrap version).
    """
    del n_bootstrap, rng
    _check_confidence(confidence)
    for k, n, what in ((k_attack, n_attack, "attack"), (k_control, n_control, "control")):
        if n <= 0 or not 0 <= k <= n:
            raise InvalidDataError(f"{what} counts must satisfy 0 <= successes <= trials > 0, found {k}/{n}")
    a, c = k_attack / n_attack, k_control / n_control
    room = 1.0 - c
    if room <= 0:
        return Estimate(0.0, (0.0, 0.0), 0.0)
    lo_d, hi_d = newcombe_difference(k_attack, n_attack, k_control, n_control, confidence)
    value = min(1.0, max(-1.0, (a - c) / room))
    lo, hi = (min(1.0, max(-1.0, x / room)) for x in (lo_d, hi_d))
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    return Estimate(value, (min(lo, value), max(hi, value)), (hi - lo) / (2 * z))


# -- exact intervals for rates ----------------------------------------------------------------------------


def clopper_pearson(k: int, n: int, confidence: float = 0.95, alternative: str = "two-sided") -> Interval:
    """Exact (Clopper–Pearson) interval for a binomial proportion ``k / n``.

    ``alternative="greater"`` gives a one-sided lower bound (upper = 1), ``"less"`` a one-sided upper bound
    (lower = 0), each at the full ``confidence``.
    """
    _check_confidence(confidence)
    if n <= 0 or not 0 <= k <= n:
        raise InvalidDataError(f"a rate needs 0 <= successes <= trials > 0, found {k}/{n}")
    if alternative == "two-sided":
        tail = (1 - confidence) / 2
    elif alternative in ("greater", "less"):
        tail = 1 - confidence
    else:
        raise InvalidParameterError(f"alternative must be two-sided, greater or less, found {alternative!r}")
    lo = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    if alternative == "greater":
        hi = 1.0
    elif alternative == "less":
        lo = 0.0
    return lo, hi


def wilson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for ``k / n``."""
    _check_confidence(confidence)
    if n <= 0 or not 0 <= k <= n:
        raise InvalidDataError(f"a rate needs 0 <= successes <= trials > 0, found {k}/{n}")
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> Interval:
    """Newcombe's hybrid score interval for ``k1/n1 - k2/n2`` (method 10, from two Wilson intervals)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, confidence)
    l2, u2 = wilson(k2, n2, confidence)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, lo), min(1.0, hi)


def epsilon_lower_bound(
    tp: int, n_pos: int, fp: int, n_neg: int, *, delta: float, confidence: float = 0.95
) -> float:
    """Empirical DP lower bound ``ln((TPR_lower - delta) / FPR_upper)`` from one attack threshold.

    TPR_lower and FPR_upper are one-sided Clopper–Pearson bounds, each at ``1 - (1 - confidence) / 2`` so that
    both hold together with probability ``confidence``. Returns 0 when the bound is not positive. Thresholds
    must be chosen on separate data (or the confidence corrected for the number tried) by the caller.
    """
    each = 1 - (1 - confidence) / 2
    tpr_lo, _ = clopper_pearson(tp, n_pos, each, alternative="greater")
    _, fpr_hi = clopper_pearson(fp, n_neg, each, alternative="less")
    if tpr_lo - delta <= 0 or fpr_hi <= 0:
        return 0.0
    return max(0.0, math.log((tpr_lo - delta) / fpr_hi))
