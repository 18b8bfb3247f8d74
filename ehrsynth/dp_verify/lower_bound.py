"""Empirical lower bounds on ε from canary membership guesses (numpy/scipy only; no torch).

**One run** (Steinke, Nasr & Jagielski 2023, "Privacy Auditing with One (1) Training Run", NeurIPS 2023,
arXiv:2305.08846). ``m`` canaries are each included in the training data independently with probability ½;
after training, an auditor who does not know the draw guesses "in" for some canaries, "out" for others and
abstains on the rest. If training is (ε, δ)-DP with respect to each canary, the number ``W`` of correct
guesses among ``r`` guesses satisfies (their main theorem for approximate DP, computed as in their Appendix D
reference code)::

    P[W >= v] <= f(v) + 2 m δ · max_{1 <= i <= v} (f(v - i) - f(v)) / i,     f(u) = P[Binomial(r, q) >= u],

with ``q = e^ε / (1 + e^ε)`` (for δ = 0 the second term vanishes: W is dominated by Binomial(r, q)). This
holds although the guesses are dependent (one model scores every canary). The p-value of the hypothesis "(ε, δ)-DP"
is the right-hand side; :func:`one_run_epsilon_lower_bound` returns the largest ε rejected at level
``alpha`` (0 when none is), so a correct (ε, δ)-DP pipeline reports a bound above ε with probability at most
``alpha``.

**Multiple rules.** The auditor may try several guessing rules (attack scores × numbers of guesses) and report
the best; :func:`best_one_run_bound` tests each at ``alpha / (number of rules)`` (Bonferroni), so the choice
never peeks at the truth without paying for it. Rules rank canaries *within* each training run, so pooling
runs (each with a fresh inclusion draw) stays a one-run experiment over ``m × runs`` canaries: each canary's
draw affects only its own run.

**Threshold rates** (Jagielski, Ullman & Oprea 2020, "Auditing Differentially Private Machine Learning: How
Private is Private SGD?"): for a rule "guess in above a threshold", ε ≥ ln((TPR_lower − δ) / FPR_upper) with
one-sided Clopper–Pearson bounds (:func:`ehrsynth.privacy.stats.epsilon_lower_bound`). Clopper–Pearson treats
the canary trials as independent; across repeated runs they are, within one run they share the model, which
is why :func:`threshold_rate_bound` is reported beside the one-run bound and not instead of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ehrsynth.errors import InvalidDataError, InvalidParameterError
from ehrsynth.privacy.stats import epsilon_lower_bound

#: Numbers of guesses tried per side, as fractions of the canaries of a run (top fraction guessed "in",
#: bottom fraction guessed "out"); 0.5 guesses on every canary.
GUESS_FRACTIONS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
_EPS_TOL = 1e-6


def _check_counts(m: int, r: int, v: int) -> None:
    for name, value in (("m", m), ("r", r), ("v", v)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InvalidParameterError(f"{name} must be an integer, found {value!r}")
    if not 0 <= v <= r <= m:
        raise InvalidParameterError(
            f"need 0 <= correct guesses v <= guesses r <= canaries m, found v={v}, r={r}, m={m}"
        )


def _check_delta(delta: float) -> None:
    if not (isinstance(delta, (int, float)) and 0.0 <= delta <= 1.0):
        raise InvalidParameterError(f"delta must be in [0, 1], found {delta!r}")


def one_run_p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """Probability of at least ``v`` correct guesses out of ``r`` (``m`` canaries) under (ε, δ)-DP.

    Steinke, Nasr & Jagielski (2023), main theorem for approximate DP (see the module docstring).
    Non-decreasing in ``epsilon`` and ``delta``.
    """
    _check_counts(m, r, v)
    _check_delta(delta)
    if not (isinstance(epsilon, (int, float)) and epsilon >= 0 and not math.isnan(epsilon)):
        raise InvalidParameterError(f"epsilon must be >= 0, found {epsilon!r}")
    if v == 0:
        return 1.0
    q = float(stats.logistic.cdf(epsilon))  # e^ε / (1 + e^ε), stable for large ε
    tail = float(stats.binom.sf(v - 1, r, q))  # f(v) = P[Binomial(r, q) >= v]
    if delta == 0.0:
        return min(1.0, tail)
    # f(v - i) - f(v) = P[v - i <= Binomial(r, q) <= v - 1] for i = 1..v
    below = np.cumsum(stats.binom.pmf(np.arange(v - 1, -1, -1), r, q))
    worst = float(np.max(below / np.arange(1, v + 1)))
    return min(1.0, tail + 2.0 * m * delta * worst)


def one_run_epsilon_lower_bound(m: int, r: int, v: int, *, delta: float, alpha: float = 0.05) -> float:
    """The largest ε whose (ε, δ)-DP hypothesis is rejected at level ``alpha`` by ``v`` correct guesses out of
    ``r`` on ``m`` canaries (0 when even ε = 0 is not rejected). Bisection to 1e-6."""
    _check_counts(m, r, v)
    _check_delta(delta)
    if not 0.0 < alpha < 1.0:
        raise InvalidParameterError(f"alpha must be in (0, 1), found {alpha!r}")
    if one_run_p_value(m, r, v, 0.0, delta) >= alpha:
        return 0.0
    lo, hi = 0.0, 1.0
    while one_run_p_value(m, r, v, hi, delta) < alpha:  # terminates: the p-value tends to 1 as ε grows
        lo, hi = hi, 2.0 * hi
    while hi - lo > _EPS_TOL:
        mid = 0.5 * (lo + hi)
        if one_run_p_value(m, r, v, mid, delta) < alpha:
            lo = mid
        else:
            hi = mid
    return lo


# -- guessing rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleResult:
    """One guessing rule and what it achieved."""

    attack: str
    fraction: float
    guesses: int
    correct: int
    epsilon: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "fraction": self.fraction,
            "guesses": self.guesses,
            "correct": self.correct,
            "epsilon_lower_bound": self.epsilon,
        }


def _check_scores(scores: np.ndarray, member: np.ndarray, run: np.ndarray) -> None:
    if not (scores.shape == member.shape == run.shape) or scores.ndim != 1 or len(scores) == 0:
        raise InvalidDataError(
            f"scores, membership and run ids must be 1-d arrays of one length, found shapes "
            f"{scores.shape}, {member.shape}, {run.shape}"
        )
    if not np.isfinite(scores).all():
        raise InvalidDataError("canary attack scores must be finite")


def within_run_ranks(scores: np.ndarray, run: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of each score inside its run (0 = lowest), ties broken at random (never by membership)."""
    out = np.empty(len(scores), dtype=np.int64)
    jitter = rng.random(len(scores))
    for r in np.unique(run):
        idx = np.flatnonzero(run == r)
        order = np.lexsort((jitter[idx], scores[idx]))
        ranks = np.empty(len(idx), dtype=np.int64)
        ranks[order] = np.arange(len(idx))
        out[idx] = ranks
    return out


def guess_counts(ranks: np.ndarray, member: np.ndarray, run: np.ndarray, fraction: float) -> tuple[int, int]:
    """(guesses, correct) for the rule: in each run of ``n`` canaries, guess "in" for the top
    ``ceil(fraction n)`` ranks and "out" for the bottom as many (never both for one canary)."""
    guesses = correct = 0
    for r in np.unique(run):
        idx = run == r
        n = int(idx.sum())
        k = min(max(1, math.ceil(fraction * n)), n // 2)
        rk, mem = ranks[idx], member[idx]
        top, bottom = rk >= n - k, rk < k
        guesses += 2 * k
        correct += int(mem[top].sum()) + int((~mem[bottom]).sum())
    return guesses, correct


def _ranked(
    scores: Mapping[str, np.ndarray], member: np.ndarray, run: np.ndarray, rng: np.random.Generator
) -> Iterator[tuple[str, np.ndarray]]:
    """(attack, within-run ranks of its checked scores) for each attack, in order."""
    for name, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        _check_scores(values, member, run)
        yield name, within_run_ranks(values, run, rng)


def best_one_run_bound(
    scores: Mapping[str, np.ndarray],
    member: np.ndarray,
    run: np.ndarray,
    *,
    delta: float,
    confidence: float = 0.95,
    fractions: Sequence[float] = GUESS_FRACTIONS,
    rng: np.random.Generator,
) -> tuple[RuleResult, list[RuleResult]]:
    """Try every (attack, fraction) rule; each is tested at ``(1 - confidence) / rules`` (Bonferroni), so the
    best of them is a valid bound at ``confidence``. Returns (best rule, all rules). Higher score = more
    likely a member."""
    member, run = np.asarray(member, dtype=bool), np.asarray(run)
    if not scores:
        raise InvalidParameterError("at least one attack score is needed")
    if not 0.0 < confidence < 1.0:
        raise InvalidParameterError(f"confidence must be in (0, 1), found {confidence!r}")
    for f in fractions:
        if not 0.0 < f <= 0.5:
            raise InvalidParameterError(f"guess fractions must be in (0, 0.5], found {f!r}")
    m = len(member)
    alpha = (1.0 - confidence) / (len(scores) * len(fractions))
    results: list[RuleResult] = []
    for name, ranks in _ranked(scores, member, run, rng):
        for f in fractions:
            r, v = guess_counts(ranks, member, run, f)
            eps = one_run_epsilon_lower_bound(m, r, v, delta=delta, alpha=alpha)
            results.append(RuleResult(name, float(f), r, v, eps))
    best = max(results, key=lambda res: res.epsilon)  # first of equals: attack order, then fraction order
    return best, results


def threshold_rate_bound(
    scores: Mapping[str, np.ndarray],
    member: np.ndarray,
    run: np.ndarray,
    *,
    delta: float,
    confidence: float = 0.95,
    fractions: Sequence[float] = GUESS_FRACTIONS,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Jagielski et al. (2020) style: for each attack and each threshold "top ``fraction`` of a run's
    canaries", ε ≥ ln((TPR_lower − δ) / FPR_upper) with one-sided Clopper–Pearson bounds, Bonferroni over all
    thresholds tried. Assumes independent trials (see the module docstring)."""
    member, run = np.asarray(member, dtype=bool), np.asarray(run)
    n_pos, n_neg = int(member.sum()), int((~member).sum())
    tries = len(scores) * len(fractions)
    level = 1.0 - (1.0 - confidence) / tries
    best: dict[str, Any] = {"epsilon_lower_bound": 0.0}
    if n_pos == 0 or n_neg == 0:
        return {**best, "note": "every canary was in (or out); no rates can be estimated"}
    for name, ranks in _ranked(scores, member, run, rng):
        for f in fractions:
            flagged = np.zeros(len(ranks), dtype=bool)
            for r in np.unique(run):
                idx = run == r
                n = int(idx.sum())
                flagged[idx] = ranks[idx] >= n - max(1, math.ceil(f * n))
            tp, fp = int((flagged & member).sum()), int((flagged & ~member).sum())
            eps = epsilon_lower_bound(tp, n_pos, fp, n_neg, delta=delta, confidence=level)
            if eps > best["epsilon_lower_bound"] or "attack" not in best:
                best = {
                    "epsilon_lower_bound": eps,
                    "attack": name,
                    "fraction": float(f),
                    "tpr": tp / n_pos,
                    "fpr": fp / n_neg,
                    "true_positives": tp,
                    "false_positives": fp,
                }
    return {
        **best,
        "members": n_pos,
        "non_members": n_neg,
        "thresholds_tried": tries,
        "assumes_independent_trials": True,
    }
