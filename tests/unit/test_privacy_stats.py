"""ehrsynth.privacy.stats: ROC/AUC with ties, TPR at FPR, bootstrap and exact intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn.metrics import roc_auc_score, roc_curve

from ehrsynth.errors import InvalidDataError, InvalidParameterError
from ehrsynth.privacy.stats import (
    auc,
    clopper_pearson,
    epsilon_lower_bound,
    excess_risk,
    newcombe_difference,
    roc_summary,
    tpr_at_fpr,
    wilson,
)
from ehrsynth.privacy.stats import (
    roc_curve as our_roc_curve,
)

scores = st.lists(st.integers(0, 6), min_size=1, max_size=40).map(lambda v: np.asarray(v, dtype=float))


@settings(max_examples=60, deadline=None)
@given(pos=scores, neg=scores)
def test_auc_and_tpr_match_sklearn_with_ties(pos: np.ndarray, neg: np.ndarray) -> None:
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    s = np.r_[pos, neg]
    assert auc(pos, neg) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    for a in (0.0, 0.01, 0.3, 1.0):
        assert tpr_at_fpr(pos, neg, a) == pytest.approx(float(np.interp(a, fpr, tpr)), abs=1e-8)


@settings(max_examples=40, deadline=None)
@given(pos=scores, neg=scores)
def test_auc_is_antisymmetric_and_rank_invariant(pos: np.ndarray, neg: np.ndarray) -> None:
    assert auc(pos, neg) + auc(neg, pos) == pytest.approx(1.0)
    assert auc(np.exp(pos), np.exp(neg)) == pytest.approx(auc(pos, neg))


def test_roc_curve_runs_from_origin_to_one() -> None:
    fpr, tpr = our_roc_curve(np.array([3.0, 2.0]), np.array([1.0, 2.0]))
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_perfect_and_tied_separation() -> None:
    assert auc(np.ones(10), np.zeros(10)) == 1.0
    assert auc(np.ones(10), np.ones(10)) == 0.5
    # a tie across the threshold: randomising on it gives the linear value
    assert tpr_at_fpr(np.ones(10), np.ones(10), 0.25) == pytest.approx(0.25)


def test_roc_summary_interval_covers_point_and_null() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(size=400), rng.normal(size=500)
    s = roc_summary(pos, neg, n_bootstrap=400, rng=np.random.default_rng(1))
    assert s.auc.ci[0] <= s.auc.value <= s.auc.ci[1]
    assert s.auc.ci[0] < 0.5 < s.auc.ci[1]
    assert 0.0 < s.auc.se < 0.05
    assert set(s.tpr_at) == {0.01, 0.001}
    strong = roc_summary(pos + 3, neg, n_bootstrap=200, rng=np.random.default_rng(1))
    assert strong.auc.ci[0] > 0.95
    assert strong.tpr_at[0.01].value > 0.5


def test_roc_summary_is_seeded() -> None:
    rng = np.random.default_rng(3)
    pos, neg = rng.normal(size=300) + 0.2, rng.normal(size=300)
    a = roc_summary(pos, neg, n_bootstrap=200, rng=np.random.default_rng(7))
    b = roc_summary(pos, neg, n_bootstrap=200, rng=np.random.default_rng(7))
    assert a.auc.ci == b.auc.ci and a.tpr_at[0.01].ci == b.tpr_at[0.01].ci


def test_bootstrap_se_matches_hanley_mcneil_roughly() -> None:
    rng = np.random.default_rng(5)
    pos, neg = rng.normal(0.5, 1, 2000), rng.normal(0, 1, 2000)
    s = roc_summary(pos, neg, n_bootstrap=500, rng=np.random.default_rng(0))
    a = s.auc.value
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    hm = math.sqrt((a * (1 - a) + 1999 * (q1 - a * a) + 1999 * (q2 - a * a)) / (2000 * 2000))
    assert s.auc.se == pytest.approx(hm, rel=0.25)


def test_roc_rejects_empty_or_nonfinite() -> None:
    with pytest.raises(InvalidDataError):
        auc(np.array([]), np.array([1.0]))
    with pytest.raises(InvalidDataError):
        auc(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(InvalidParameterError):
        roc_summary(np.ones(5), np.zeros(5), n_bootstrap=5, rng=np.random.default_rng(0))


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (17, 250)])
def test_clopper_pearson_matches_scipy(k: int, n: int) -> None:
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = clopper_pearson(k, n, 0.95)
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)
    lo1, hi1 = clopper_pearson(k, n, 0.95, alternative="greater")
    assert hi1 == 1.0 and lo1 >= lo


def test_wilson_matches_scipy() -> None:
    ref = sps.binomtest(7, 40).proportion_ci(confidence_level=0.9, method="wilson")
    lo, hi = wilson(7, 40, 0.9)
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)


def test_newcombe_matches_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80 -> 0.0524 to 0.3339
    lo, hi = newcombe_difference(56, 70, 48, 80, 0.95)
    assert lo == pytest.approx(0.0524, abs=5e-4) and hi == pytest.approx(0.3339, abs=5e-4)


def test_excess_risk_point_and_interval() -> None:
    rng = np.random.default_rng(0)
    est = excess_risk(95, 100, 80, 100, rng=rng)
    assert est.value == pytest.approx((0.95 - 0.8) / 0.2)
    assert est.ci[0] < est.value < est.ci[1]
    assert excess_risk(100, 100, 100, 100, rng=rng).value == 0.0  # no room above a perfect control
    null = excess_risk(50, 100, 50, 100, rng=rng)
    assert null.value == 0.0 and null.ci[0] < 0 < null.ci[1]
    with pytest.raises(InvalidDataError):
        excess_risk(5, 4, 1, 10, rng=rng)


def test_epsilon_lower_bound() -> None:
    # an attack that flags 90% of canaries and 1% of non-canaries, 1000 each: epsilon well above 0
    eps = epsilon_lower_bound(900, 1000, 10, 1000, delta=1e-5)
    assert 3.0 < eps < math.log(0.9 / 0.01)
    assert epsilon_lower_bound(10, 1000, 10, 1000, delta=1e-5) == 0.0
