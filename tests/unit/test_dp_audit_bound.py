"""The one-run (Steinke, Nasr & Jagielski 2023) bound, the guessing rules and the threshold bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ehrsynth.dp_verify.lower_bound import (
    GUESS_FRACTIONS,
    best_one_run_bound,
    guess_counts,
    one_run_epsilon_lower_bound,
    one_run_p_value,
    threshold_rate_bound,
    within_run_ranks,
)
from ehrsynth.errors import InvalidDataError, InvalidParameterError


def reference_p_value(m: int, r: int, v: int, eps: float, delta: float) -> float:
    """Loop form of the paper's Appendix D reference computation, written out independently."""
    q = math.exp(eps) / (1 + math.exp(eps))
    beta = float(stats.binom.sf(v - 1, r, q))
    alpha, acc = 0.0, 0.0
    for i in range(1, v + 1):
        acc += float(stats.binom.pmf(v - i, r, q))
        alpha = max(alpha, acc / i)
    return min(1.0, beta + alpha * delta * 2 * m)


@settings(max_examples=60, deadline=None)
@given(
    r=st.integers(1, 300),
    frac_v=st.floats(0, 1),
    extra=st.integers(0, 500),
    eps=st.floats(0, 8),
    delta=st.sampled_from([0.0, 1e-6, 1e-5, 1e-3]),
)
def test_p_value_matches_reference_loop(r: int, frac_v: float, extra: int, eps: float, delta: float) -> None:
    v = round(frac_v * r)
    m = r + extra
    assert one_run_p_value(m, r, v, eps, delta) == pytest.approx(
        reference_p_value(m, r, v, eps, delta), rel=1e-9, abs=1e-12
    )


def test_pure_dp_perfect_guesses_closed_form() -> None:
    # all r guesses correct, delta = 0: the bound solves q^r = alpha with q = e^eps / (1 + e^eps)
    for r, alpha in ((100, 0.05), (400, 0.05), (50, 0.01)):
        q = alpha ** (1 / r)
        expected = math.log(q / (1 - q))
        assert one_run_epsilon_lower_bound(r, r, r, delta=0.0, alpha=alpha) == pytest.approx(
            expected, abs=1e-5
        )


def test_known_values() -> None:
    # hand-checked anchors: 100/100 correct -> 3.493 (pure DP); chance-level accuracy -> 0
    assert one_run_epsilon_lower_bound(100, 100, 100, delta=0.0) == pytest.approx(3.4930, abs=1e-3)
    assert one_run_epsilon_lower_bound(1000, 1000, 500, delta=1e-5) == 0.0
    assert one_run_epsilon_lower_bound(1000, 200, 110, delta=1e-5) == 0.0
    # delta costs something but not much for small 2 m delta
    pure = one_run_epsilon_lower_bound(1000, 200, 150, delta=0.0)
    approx = one_run_epsilon_lower_bound(1000, 200, 150, delta=1e-5)
    assert 0.0 < approx <= pure < approx + 0.05


def test_bound_is_where_p_value_crosses_alpha() -> None:
    m, r, v, delta = 500, 200, 170, 1e-5
    eps = one_run_epsilon_lower_bound(m, r, v, delta=delta, alpha=0.05)
    assert one_run_p_value(m, r, v, eps, delta) < 0.05 <= one_run_p_value(m, r, v, eps + 1e-4, delta)


@settings(max_examples=40, deadline=None)
@given(r=st.integers(10, 300), frac=st.floats(0.5, 1.0), delta=st.sampled_from([0.0, 1e-6, 1e-4]))
def test_monotone_in_correct_guesses_delta_and_alpha(r: int, frac: float, delta: float) -> None:
    v = round(frac * r)
    m = 2 * r
    base = one_run_epsilon_lower_bound(m, r, v, delta=delta)
    if v < r:
        assert one_run_epsilon_lower_bound(m, r, v + 1, delta=delta) >= base
    assert one_run_epsilon_lower_bound(m, r, v, delta=min(1.0, 10 * delta + 1e-3)) <= base + 1e-9
    assert one_run_epsilon_lower_bound(m, r, v, delta=delta, alpha=0.01) <= base + 1e-9
    assert base >= 0.0


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 200), eps1=st.floats(0, 5), eps2=st.floats(0, 5))
def test_p_value_non_decreasing_in_epsilon(m: int, eps1: float, eps2: float) -> None:
    r = m
    v = (2 * m) // 3
    lo, hi = sorted((eps1, eps2))
    assert one_run_p_value(m, r, v, lo, 1e-5) <= one_run_p_value(m, r, v, hi, 1e-5) + 1e-12


def test_bound_is_valid_for_randomized_response() -> None:
    """An eps0-DP mechanism (randomized response on each canary's coin): the 95% bound may exceed eps0 in at
    most about 5% of independent repetitions."""
    rng = np.random.default_rng(0)
    eps0, m, trials = 1.0, 400, 300
    q = math.exp(eps0) / (1 + math.exp(eps0))
    exceed = 0
    for _ in range(trials):
        s = rng.random(m) < 0.5
        observed = np.where(rng.random(m) < q, s, ~s)  # the best possible guess of s from the output
        r, v = m, int((observed == s).sum())
        exceed += one_run_epsilon_lower_bound(m, r, v, delta=0.0) > eps0
    assert exceed / trials <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials)


def test_input_validation() -> None:
    with pytest.raises(InvalidParameterError):
        one_run_p_value(10, 11, 5, 1.0, 0.0)
    with pytest.raises(InvalidParameterError):
        one_run_p_value(10, 5, 6, 1.0, 0.0)
    with pytest.raises(InvalidParameterError):
        one_run_p_value(10, 5, 3, -1.0, 0.0)
    with pytest.raises(InvalidParameterError):
        one_run_epsilon_lower_bound(10, 5, 3, delta=2.0)
    with pytest.raises(InvalidParameterError):
        one_run_epsilon_lower_bound(10, 5, 3, delta=0.0, alpha=1.5)
    assert one_run_p_value(10, 5, 0, 1.0, 0.0) == 1.0


# -- rules ---------------------------------------------------------------------------------------------------


def test_within_run_ranks_rank_inside_each_run() -> None:
    scores = np.array([3.0, 1.0, 2.0, 10.0, -5.0, 0.0])
    run = np.array([0, 0, 0, 1, 1, 1])
    ranks = within_run_ranks(scores, run, np.random.default_rng(0))
    assert ranks.tolist() == [2, 0, 1, 2, 0, 1]


def test_ties_are_broken_at_random_not_by_membership() -> None:
    scores = np.zeros(1000)
    run = np.zeros(1000, dtype=int)
    member = np.arange(1000) < 500
    ranks = within_run_ranks(scores, run, np.random.default_rng(1))
    assert sorted(ranks.tolist()) == list(range(1000))
    r, v = guess_counts(ranks, member, run, 0.5)
    assert r == 1000 and abs(v - 500) < 80  # chance level, not the truth order


def test_guess_counts_perfect_separation() -> None:
    member = np.array([True] * 10 + [False] * 10)
    scores = np.where(member, 1.0, 0.0) + np.linspace(0, 0.1, 20)
    run = np.zeros(20, dtype=int)
    ranks = within_run_ranks(scores, run, np.random.default_rng(0))
    assert guess_counts(ranks, member, run, 0.2) == (8, 8)
    assert guess_counts(ranks, member, run, 0.5) == (20, 20)
    assert guess_counts(ranks, member, run, 0.01) == (2, 2)  # at least one guess per side


def test_best_rule_is_bonferroni_corrected_and_pooled_over_runs() -> None:
    rng = np.random.default_rng(0)
    m, runs = 300, 2
    member = rng.random(m * runs) < 0.5
    run = np.repeat(np.arange(runs), m)
    perfect = member + rng.normal(0, 0.01, m * runs)
    noise = rng.normal(size=m * runs)
    best, rules = best_one_run_bound(
        {"perfect": perfect, "noise": noise}, member, run, delta=1e-5, rng=np.random.default_rng(1)
    )
    assert len(rules) == 2 * len(GUESS_FRACTIONS)
    assert best.attack == "perfect" and best.correct == best.guesses
    alpha = 0.05 / len(rules)
    assert best.epsilon == pytest.approx(
        one_run_epsilon_lower_bound(m * runs, best.guesses, best.correct, delta=1e-5, alpha=alpha)
    )
    # one attack alone pays less for the choice
    alone, _ = best_one_run_bound({"perfect": perfect}, member, run, delta=1e-5, rng=np.random.default_rng(1))
    assert alone.epsilon > best.epsilon
    assert all(r.epsilon <= 0.2 for r in rules if r.attack == "noise")


def test_best_rule_input_errors() -> None:
    member = np.array([True, False] * 10)
    run = np.zeros(20, dtype=int)
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidParameterError):
        best_one_run_bound({}, member, run, delta=1e-5, rng=rng)
    with pytest.raises(InvalidDataError):
        best_one_run_bound({"a": np.zeros(5)}, member, run, delta=1e-5, rng=rng)
    with pytest.raises(InvalidDataError):
        best_one_run_bound({"a": np.full(20, np.nan)}, member, run, delta=1e-5, rng=rng)
    with pytest.raises(InvalidParameterError):
        best_one_run_bound({"a": np.zeros(20)}, member, run, delta=1e-5, fractions=(0.7,), rng=rng)


def test_threshold_rate_bound() -> None:
    rng = np.random.default_rng(0)
    m = 2000
    member = rng.random(m) < 0.5
    run = np.repeat(np.arange(4), m // 4)
    strong = member * 3.0 + rng.normal(size=m)
    out = threshold_rate_bound({"strong": strong}, member, run, delta=1e-5, rng=rng)
    assert out["epsilon_lower_bound"] > 1.0
    assert out["assumes_independent_trials"] is True
    assert out["thresholds_tried"] == len(GUESS_FRACTIONS)
    weak = threshold_rate_bound({"noise": rng.normal(size=m)}, member, run, delta=1e-5, rng=rng)
    assert weak["epsilon_lower_bound"] < 0.5
