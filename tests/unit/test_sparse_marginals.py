"""The measure engine's DP releases: indicator layout, row cap and truncation, sensitivities, accounting."""

from __future__ import annotations

import math

import numpy as np
import pld
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from ehrsynth.dp.accounting import Gaussian, compute_epsilon, mechanism_to_dict
from ehrsynth.dp.measure_budget import plan_measure_budget
from ehrsynth.dp.selection import (
    candidate_triples,
    em_epsilon,
    em_noise_multiplier,
    select_top_k,
)
from ehrsynth.dp.sparse_marginals import (
    PAIR_GROUP_SHARES,
    IndicatorLayout,
    indicator_layout,
    indicator_matrix,
    one_way_sensitivity,
    pair_counts,
    pair_group_masks,
    pair_group_multipliers,
    pair_group_sensitivities,
    pair_mechanisms,
    pair_sensitivity,
    priority,
    release_ones_histogram,
    release_pairs,
    release_row_cap,
    triple_counts,
    triple_sensitivity,
    truncate_rows,
)
from ehrsynth.transforms.layout import Span, SpanKind

# race (softmax 3) | dx_a binary | lab scaled + its missing flag | sex (softmax 2) | dx_b, dx_c, dx_d binary
LAYOUT = [
    Span("race", SpanKind.SOFTMAX, 0, 3),
    Span("dx_a", SpanKind.BINARY, 3, 1),
    Span("lab", SpanKind.SCALED, 4, 1),
    Span("lab", SpanKind.MISSING, 5, 1),
    Span("sex", SpanKind.SOFTMAX, 6, 2),
    Span("dx_b", SpanKind.BINARY, 8, 1),
    Span("dx_c", SpanKind.BINARY, 9, 1),
    Span("dx_d", SpanKind.BINARY, 10, 1),
]
IND = IndicatorLayout.from_layout(LAYOUT)


def test_indicator_layout_blocks_and_units() -> None:
    units, blocks = indicator_layout(LAYOUT)
    assert units.tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]  # the SCALED unit 4 is not measured
    assert blocks.tolist() == [0, 0, 0, 1, 2, 3, 3, 4, 5, 6]
    assert IND.free.tolist() == [False] * 3 + [True, True, False, False, True, True, True]
    assert IND.n_fixed == 2
    mask = IND.pair_mask()
    assert not mask[0, 1] and not mask[5, 6] and mask[0, 3] and mask[3, 4]  # same-block pairs excluded
    assert not mask.diagonal().any() and not np.tril(mask).any()


def _encoded(rng: np.random.Generator, n: int, density: float) -> np.ndarray:
    X = np.zeros((n, 11), dtype=np.float32)
    X[np.arange(n), rng.integers(0, 3, n)] = 1.0
    X[np.arange(n), 6 + rng.integers(0, 2, n)] = 1.0
    for j in (3, 5, 8, 9, 10):
        X[:, j] = rng.random(n) < density
    X[:, 4] = rng.random(n)
    return X


def test_truncation_keeps_block_ones_and_lowest_ranks() -> None:
    X = _encoded(np.random.default_rng(0), 200, 0.7)
    M = indicator_matrix(X, IND)
    rank = priority(IND, "hash", seed=3)
    T = truncate_rows(M, IND, 2, rank).toarray()
    A = M.toarray()
    assert np.all(T <= A)
    assert np.array_equal(T[:, ~IND.free], A[:, ~IND.free])  # softmax ones always kept
    free = np.flatnonzero(IND.free)
    for i in range(len(A)):
        kept = free[T[i, free] > 0]
        dropped = free[(A[i, free] > 0) & (T[i, free] == 0)]
        assert len(kept) == min(2, int(A[i, free].sum()))
        if len(dropped):
            assert rank[kept].max() < rank[dropped].min()  # the fixed public order decides


def test_priority_orders() -> None:
    p = np.array([0.5, 0.3, 0.2, 0.1, 0.01, 0.6, 0.4, 0.05, 0.2, 0.02])
    assert np.argmin(priority(IND, "rarest", p)) == 4
    assert np.argmin(priority(IND, "commonest", p)) == 5
    assert sorted(priority(IND, "hash", seed=1).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="1-way"):
        priority(IND, "rarest")


def _vectors(M: sp.csr_matrix, triples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = IND.pair_mask()
    return (
        np.asarray(M.sum(axis=0)).ravel(),
        pair_counts(M)[mask],
        triple_counts(M, triples),
    )


rows = st.lists(st.lists(st.booleans(), min_size=11, max_size=11), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(data=rows, extra=st.lists(st.booleans(), min_size=11, max_size=11), cap=st.integers(0, 5))
def test_one_row_changes_each_release_by_at_most_its_bound(data, extra, cap: int) -> None:
    """Add/remove one row (any pattern, incl. above the cap and broken one-hot blocks): each L2 change is
    within the stated sensitivity."""
    X = np.asarray(data, dtype=np.float32)
    X2 = np.vstack([X, np.asarray(extra, dtype=np.float32)])
    rank = priority(IND, "hash", seed=0)
    triples = np.asarray([[0, 3, 5], [3, 4, 7], [3, 8, 9], [4, 8, 9], [0, 7, 9]])
    a = _vectors(truncate_rows(indicator_matrix(X, IND), IND, cap, rank), triples)
    b = _vectors(truncate_rows(indicator_matrix(X2, IND), IND, cap, rank), triples)
    ones = IND.n_fixed + cap
    bounds = (one_way_sensitivity(ones), pair_sensitivity(ones), triple_sensitivity(ones, len(triples)))
    for va, vb, bound in zip(a, b, bounds, strict=True):
        assert np.linalg.norm(vb - va) <= bound + 1e-9
    pa = pair_counts(truncate_rows(indicator_matrix(X, IND), IND, cap, rank))
    pb = pair_counts(truncate_rows(indicator_matrix(X2, IND), IND, cap, rank))
    for group, m in pair_group_masks(IND).items():
        assert np.linalg.norm(pb[m] - pa[m]) <= pair_group_sensitivities(IND.n_fixed, cap)[group] + 1e-9


def test_pair_sensitivity_is_attained_by_a_full_row() -> None:
    X = _encoded(np.random.default_rng(1), 30, 0.2)
    full = np.zeros((1, 11), dtype=np.float32)
    full[0, [0, 3, 5, 6, 8, 9, 10]] = 1.0
    rank = priority(IND, "hash")
    a = pair_counts(truncate_rows(indicator_matrix(X, IND), IND, 5, rank))[IND.pair_mask()]
    M2 = indicator_matrix(np.vstack([X, full]), IND)
    b = pair_counts(truncate_rows(M2, IND, 5, rank))[IND.pair_mask()]
    assert np.linalg.norm(b - a) == pytest.approx(pair_sensitivity(7))  # 7 ones: 21 pairs, all cross-block


def test_release_row_cap_exact_and_noisy() -> None:
    per_row = np.r_[np.full(90, 3), np.full(10, 12)]
    k, mech = release_row_cap(per_row, noise_multiplier=None, rng=np.random.default_rng(0), quantile=0.9)
    assert k == 3 and mech is None
    k, mech = release_row_cap(per_row, noise_multiplier=2.0, rng=np.random.default_rng(0), quantile=0.95)
    assert 3 <= k <= 12 and mech == Gaussian("measure:row_cap", 2.0, count=1)


def test_one_histogram_serves_several_caps() -> None:
    per_row = np.random.default_rng(0).poisson(4, 10_000)
    hist, mech = release_ones_histogram(per_row, noise_multiplier=20.0, rng=np.random.default_rng(1))
    assert mech is not None and mech.count == 1
    for q in (0.5, 0.9, 0.99):
        assert abs(hist.quantile(q) - np.quantile(per_row, q)) <= 1
    assert hist.quantile(0.9) <= hist.quantile(0.99)


def test_release_pairs_exact_and_noise_scale() -> None:
    X = _encoded(np.random.default_rng(2), 500, 0.3)
    M = indicator_matrix(X, IND)
    exact = release_pairs(M, IND, ones=7, noise_multiplier=None, rng=np.random.default_rng(0))
    counts = M.toarray().T @ M.toarray()
    mask = IND.pair_mask()
    assert np.allclose(exact.freq[mask], counts[mask] / 500) and exact.mechanisms == ()
    assert np.array_equal(exact.mask, mask) and not exact.sd.any()
    assert np.allclose(exact.freq, exact.freq.T) and not exact.freq[~(mask | mask.T)].any()
    noisy = [
        release_pairs(M, IND, ones=7, noise_multiplier=0.5, rng=np.random.default_rng(s)) for s in range(60)
    ]
    mult = pair_group_multipliers(IND, 5, 0.5)
    sens = pair_group_sensitivities(IND.n_fixed, 5)
    assert [m.name for m in noisy[0].mechanisms] == [f"measure:pairs:{g}" for g in ("free", "mixed", "fixed")]
    for group, m in pair_group_masks(IND).items():
        err = np.stack([(r.freq - exact.freq)[m] * 500 for r in noisy])
        assert err.std() == pytest.approx(mult[group] * sens[group], rel=0.15)
        assert np.allclose(noisy[0].sd[m], mult[group] * sens[group] / 500)
    assert np.array_equal(noisy[0].mask, mask) and np.allclose(noisy[0].sd, noisy[0].sd.T)


def test_pair_groups_split_one_release_budget() -> None:
    """The groups partition the measured pairs, their sensitivities square-sum to C(L, 2), and together they
    spend at most (and within rounding exactly) the μ² of the single release they replace."""
    masks = pair_group_masks(IND)
    assert np.array_equal(sum(m.astype(int) for m in masks.values()), IND.pair_mask().astype(int))
    sens = pair_group_sensitivities(IND.n_fixed, 5)
    assert sum(v**2 for v in sens.values()) == pytest.approx(pair_sensitivity(7) ** 2)
    mult = pair_group_multipliers(IND, 5, 0.5)
    mu2 = sum(1 / v**2 for v in mult.values())
    assert 1 / 0.5**2 * (1 - 1e-5) <= mu2 <= 1 / 0.5**2
    shares = {g: 0.5**2 / v**2 for g, v in mult.items()}  # μ² shares of the single release
    assert shares == pytest.approx(PAIR_GROUP_SHARES, rel=1e-5)
    # a group no row reaches gives its share to the others
    codes_only = pair_group_multipliers(IND, 5, 0.5, {"free": 1.0})
    assert list(codes_only) == ["free"] and codes_only["free"] == pytest.approx(0.5, rel=1e-5)
    mechs = list(pair_mechanisms(IND, 7, 0.5))
    assert compute_epsilon(mechs, 1e-5) <= compute_epsilon([Gaussian("one", 0.5)], 1e-5) * (1 + 1e-9)
    # K = 1: no row holds two free ones, so code pairs are not released (and not targets)
    assert set(pair_group_multipliers(IND, 1, 0.5)) == {"mixed", "fixed"}
    one = release_pairs(indicator_matrix(_encoded(np.random.default_rng(3), 50, 0.3), IND), IND, ones=3,
                        noise_multiplier=0.5, rng=np.random.default_rng(0))  # fmt: skip
    assert not one.mask[masks["free"]].any() and one.mask[masks["mixed"]].all()


@pytest.mark.parametrize("epsilon", [1.0, 3.0])
def test_plan_spends_the_budget_and_dp_accounting_agrees(epsilon: float) -> None:
    delta = 1e-5
    plan = plan_measure_budget(epsilon=epsilon, delta=delta, rounds=2, per_round=20)
    mechs = [
        Gaussian("measure:row_cap", plan.row_cap),  # type: ignore[arg-type]
        Gaussian("measure:one_way", plan.one_way),  # type: ignore[arg-type]
        Gaussian("measure:pairs", plan.pairs),  # type: ignore[arg-type]
        *[Gaussian(f"measure:select:{r}", plan.select, count=20) for r in (1, 2)],  # type: ignore[arg-type]
        *[Gaussian(f"measure:triples:{r}", plan.triples) for r in (1, 2)],  # type: ignore[arg-type]
    ]
    ours = compute_epsilon(mechs, delta)
    assert ours == pytest.approx(plan.epsilon_spent, rel=1e-6)
    assert epsilon * 0.99 <= ours <= epsilon
    record = {"delta": delta, "mechanisms": [mechanism_to_dict(m) for m in mechs]}
    assert pld.pld_epsilon(record) == pytest.approx(ours, rel=0.02)
    # the shares are shares of mu^2 = sum of 1/sigma^2
    mu2 = {k: 1 / getattr(plan, k) ** 2 for k in ("row_cap", "one_way", "pairs")}
    assert mu2["pairs"] / mu2["one_way"] == pytest.approx(0.50 / 0.33, rel=1e-4)


def _rr_delta(eps0: float, e: float) -> float:
    return max(0.0, (math.exp(eps0) - math.exp(e)) / (1 + math.exp(eps0)))


def _gauss_delta(sigma: float, e: float) -> float:
    mu = 1 / sigma
    return float(norm.cdf(-e / mu + mu / 2) - math.exp(e) * norm.cdf(-e / mu - mu / 2))


@pytest.mark.parametrize("eps0", [0.01, 0.3, 1.0, 3.0])
def test_exponential_mechanism_is_dominated_by_its_recorded_gaussian(eps0: float) -> None:
    """Any eps0-DP mechanism is dominated by randomized response (eps0); the recorded Gaussian dominates
    that at every epsilon (hockey-stick divergence), so composing the Gaussian is a valid upper bound."""
    sigma = em_noise_multiplier(eps0)
    assert em_epsilon(sigma) == pytest.approx(eps0)
    for e in np.linspace(0, eps0 * 1.5, 40):
        assert _gauss_delta(sigma, float(e)) >= _rr_delta(eps0, float(e)) - 1e-12


def test_select_top_k_follows_scores_at_large_epsilon() -> None:
    scores = np.arange(100.0)
    idx = select_top_k(scores, 5, epsilon0=1e4, sensitivity=1.0, rng=np.random.default_rng(0))
    assert sorted(idx.tolist()) == [95, 96, 97, 98, 99]
    rand = select_top_k(scores, 5, epsilon0=1e-6, sensitivity=1.0, rng=np.random.default_rng(0))
    assert len(set(rand.tolist())) == 5 and min(rand) < 95


def test_candidate_triples_span_three_blocks() -> None:
    X = _encoded(np.random.default_rng(3), 300, 0.4)
    freq = pair_counts(indicator_matrix(X, IND)) / 300
    t = candidate_triples(IND, freq, 50, np.random.default_rng(0))
    assert 0 < len(t) <= 50 and len(np.unique(t, axis=0)) == len(t)
    b = IND.blocks[t]
    assert np.all((b[:, 0] != b[:, 1]) & (b[:, 1] != b[:, 2]) & (b[:, 0] != b[:, 2]))
    assert np.all(np.diff(t, axis=1) > 0)
