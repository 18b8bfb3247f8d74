"""The metric building blocks against reference implementations (hypothesis) and the documented rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import ks_2samp
from sklearn.metrics import f1_score, roc_auc_score

from ehrsynth.evaluation.columns import infer_kinds
from ehrsynth.evaluation.encoding import Encoder
from ehrsynth.evaluation.marginals import dimension_wise_probability, ks_statistic, pearson, total_variation
from ehrsynth.evaluation.pairwise import correlation_matrix, pairwise_metrics
from ehrsynth.evaluation.prediction import Design, auroc, f1, fit_score, score_codes
from ehrsynth.evaluation.prepare import prepare

small_floats = st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 1))  # rounding creates ties


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), small_floats), min_size=2, max_size=60))
def test_auroc_and_f1_match_sklearn(rows: list[tuple[int, float]]) -> None:
    y = np.array([r[0] for r in rows], dtype=float)
    s = np.array([r[1] for r in rows])
    pred = (s > 0).astype(float)
    assert f1(y, pred) == pytest.approx(f1_score(y, pred, zero_division=0.0))
    if 0 < y.sum() < len(y):
        assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))


@pytest.mark.filterwarnings(
    "ignore::RuntimeWarning"
)  # scipy's p-value for tiny samples; we use the statistic
@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 40), elements=small_floats),
    arrays(np.float64, st.integers(1, 40), elements=small_floats),
)
def test_ks_matches_scipy(a: np.ndarray, b: np.ndarray) -> None:
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b, method="asymp").statistic)


def test_ks_missing_values_rule() -> None:
    assert ks_statistic(np.array([1.0, np.nan]), np.array([1.0])) == 0.0
    assert ks_statistic(np.array([np.nan]), np.array([1.0])) == 1.0
    assert ks_statistic(np.array([np.nan]), np.array([np.nan])) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abcd"), min_size=1), st.lists(st.sampled_from("cdef"), min_size=1))
def test_total_variation_properties(a: list[str], b: list[str]) -> None:
    x, y = np.array(a, dtype=object), np.array(b, dtype=object)
    d = total_variation(x, y)
    assert 0.0 <= d <= 1.0 + 1e-12
    assert d == pytest.approx(total_variation(y, x))
    assert total_variation(x, np.array(sorted(a), dtype=object)) == pytest.approx(0.0)
    if not set(a) & set(b):
        assert d == pytest.approx(1.0)


def test_pearson_undefined_cases() -> None:
    assert pearson(np.array([1.0, 2.0]), np.array([3.0, 3.0])) is None
    assert pearson(np.array([1.0]), np.array([2.0])) is None
    assert pearson(np.array([1.0, 2.0, np.nan]), np.array([2.0, 4.0, 7.0])) == pytest.approx(1.0)


def test_correlation_matrix_matches_numpy_and_zeroes_constants() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    x[:, 1] += x[:, 0]
    np.testing.assert_allclose(correlation_matrix(sp.csc_matrix(x)), np.corrcoef(x.T), atol=1e-10)
    x[:, 2] = 3.0
    c = correlation_matrix(x)
    assert np.all(c[2, [0, 1, 3]] == 0.0) and c[2, 2] == 1.0


def _plan_and_encoder(df: pd.DataFrame) -> tuple[object, Encoder]:
    plan = infer_kinds(df)
    return plan, Encoder(plan).fit(prepare(df, plan, "training"))


def test_encoder_layout_and_unseen_categories() -> None:
    train = pd.DataFrame({"a": [0, 1, 1, 0], "x": [1.0, np.nan, 3.0, 4.0], "c": ["u", "v", "v", "v"]})
    plan = infer_kinds(train)
    enc = Encoder(plan).fit(prepare(train, plan, "training"))
    assert enc.names_ == ["a", "x", "x=<missing>", "c=v", "c=u"]  # categories by training frequency
    other = pd.DataFrame({"a": [1, 0], "x": [100.0, 2.0], "c": ["w", "u"]})
    m = enc.transform(prepare(other, plan, "synthetic")).toarray()
    assert m[0, 2] == 0 and m[0, 1] == 10.0  # standardised and clipped to +-10
    assert m[0, 3:].tolist() == [0.0, 0.0]  # unseen category "w": all zeros
    assert m[1, 3:].tolist() == [0.0, 1.0]
    assert list(enc.columns_of("x")) == [1, 2]


def test_pairwise_ignores_pairs_within_one_column() -> None:
    rng = np.random.default_rng(1)
    n = 500
    train = pd.DataFrame({"a": rng.integers(0, 2, n), "c": rng.choice(["p", "q", "r"], n)})
    plan, enc = _plan_and_encoder(train)
    x = enc.transform(prepare(train, plan, "training"))  # type: ignore[arg-type]
    out = pairwise_metrics(x, x, enc, ["a"])
    assert out["n_columns"] == 4  # a + 3 categories
    assert out["n_pairs"] == 3  # only a x each category; the 3 category pairs are structural
    assert out["correlation_mae"] == 0.0 and out["cooccurrence"] is None  # one code: no co-occurrence
    assert out["heatmap"]["columns"][0] == "a"


def test_probability_ignores_missing_values() -> None:
    train = pd.DataFrame({"a": [1, 0, 1, 1], "b": [0, 0, 1, 0]})
    synth = pd.DataFrame({"a": [1, np.nan, 0, 1], "b": [0, 1, 1, 0]})
    plan = infer_kinds(train)
    out = dimension_wise_probability(
        prepare(train, plan, "training"), prepare(synth, plan, "synthetic"), plan
    )
    assert out["real"] == [0.75, 0.25]
    assert out["synthetic"] == pytest.approx([2 / 3, 0.5])
    assert out["rmse"] == pytest.approx(np.sqrt(((0.75 - 2 / 3) ** 2 + 0.25**2) / 2))


def test_constant_label_rule() -> None:
    x = sp.csr_matrix(np.eye(6))
    y_test = np.array([0, 1, 0, 1, 1, 0], dtype=float)
    assert fit_score(x, np.zeros(6), x, y_test, 0)[:3] == (0.5, 0.0, True)
    auc, f, constant, _ = fit_score(x, np.ones(6), x, y_test, 0)
    assert (auc, constant) == (0.5, True) and f == pytest.approx(2 * 0.5 / 1.5)  # F1 of all-1 predictions


def test_score_codes_skips_and_counts() -> None:
    rng = np.random.default_rng(2)
    n = 300
    z = rng.normal(size=n)
    labels = np.stack(
        [
            z + rng.normal(0, 0.5, n) > 0,
            z + rng.normal(0, 0.5, n) > 0,
            np.zeros(n, bool),
            rng.random(n) < 0.5,
        ],
        axis=1,
    ).astype(np.float32)
    test_labels = labels.copy()
    test_labels[:, 3] = 1.0  # constant in test
    synth_labels = labels.copy()
    synth_labels[:, 1] = 0.0  # constant in the synthetic table
    d = {
        k: Design.of(sp.csc_matrix(v.astype(float)), v)
        for k, v in [("t", labels), ("h", test_labels), ("s", synth_labels)]
    }
    scores = score_codes(
        d["t"], d["h"], {"real": d["t"], "synthetic": d["s"]}, [0, 1, 2, 3], seed=0, n_jobs=2
    )
    assert scores.evaluated == [0, 1] and scores.skipped_train == [2] and scores.skipped_test == [3]
    assert scores.constant == {"real": 0, "synthetic": 1}
    assert scores.auroc["synthetic"][1] == 0.5
    assert scores.auroc["real"][0] > 0.8 and scores.auroc["real"][1] > 0.8  # the codes predict each other
