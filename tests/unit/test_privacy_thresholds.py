"""ehrsynth.privacy.thresholds (verdict rules) and the latent-class density model."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ehrsynth.errors import InvalidParameterError, NotFittedError
from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.attacks.density import LatentClassMixture


def _ind(value: float, test: dict, ci: tuple[float, float] = (-0.1, 0.2)) -> th.RiskIndicator:
    return th.RiskIndicator(attack="x", name="i", value=value, ci=ci, test=test)


def test_classify_needs_significance_and_size() -> None:
    assert th.classify(0.5, significant=False) == "low"
    assert th.classify(0.5, significant=True) == "high"
    assert th.classify(th.GUIDANCE_RISK, significant=True) == "high"
    assert th.classify(0.05, significant=True) == "medium"
    assert th.classify(0.01, significant=True) == "low"
    assert th.HIGH_RISK == 0.09


def test_assess_uses_difference_of_rates_with_bonferroni() -> None:
    strong = _ind(1.0, th.proportions_test(100, 100, 5, 100))
    weak = _ind(0.2, th.proportions_test(56, 100, 45, 100))  # p ~ 0.06 one-sided: not significant
    null = _ind(0.0, th.normal_test(0.0, 0.01), ci=(-0.02, 0.02))
    per_attack = th.assess([strong, weak, null])
    assert strong.level == "high" and strong.test_lower > 0
    assert weak.level == "low" and weak.inconclusive
    assert null.level == "low" and not null.inconclusive
    assert per_attack == {"x": "high"}


def test_bonferroni_makes_borderline_results_low() -> None:
    one = _ind(0.05, th.normal_test(0.05, 0.02))  # z = 2.5
    th.assess([one])
    assert one.level == "medium"
    many = [_ind(0.05, th.normal_test(0.05, 0.02)) for _ in range(20)]
    th.assess(many)
    assert all(i.level == "low" for i in many)


def test_fails_and_highest() -> None:
    assert th.fails("high", "high") and th.fails("medium", "low") and not th.fails("medium", "high")
    assert not th.fails("high", "never")
    assert th.highest(["low", "high", "medium"]) == "high" and th.highest([]) == "low"
    with pytest.raises(InvalidParameterError):
        th.fails("high", "sometimes")
    assert th.describe()["guidance_risk"] == 0.09


def test_latent_class_mixture_prefers_rows_like_its_data() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random((400, 20)) < np.linspace(0.05, 0.6, 20)).astype(np.float32)
    b = (rng.random((400, 20)) < np.linspace(0.6, 0.05, 20)).astype(np.float32)
    cat = sp.csr_matrix(np.eye(3, dtype=np.float32)[rng.integers(0, 3, 400)])
    bernoulli = np.r_[np.ones(20, bool), np.zeros(3, bool)]
    block = np.r_[np.arange(20), np.full(3, 20)]
    xa = sp.hstack([sp.csr_matrix(a), cat], format="csr")
    xb = sp.hstack([sp.csr_matrix(b), cat], format="csr")
    model = LatentClassMixture(4, random_state=0).fit(xa, bernoulli, block)
    assert model.score_samples(xa).mean() > model.score_samples(xb).mean() + 1.0
    again = LatentClassMixture(4, random_state=0).fit(xa, bernoulli, block)
    np.testing.assert_allclose(model.score_samples(xb), again.score_samples(xb))
    assert np.isfinite(model.score_samples(xb)).all()  # smoothing: unseen patterns never get -inf
    with pytest.raises(NotFittedError):
        LatentClassMixture().score_samples(xa)
    with pytest.raises(InvalidParameterError):
        LatentClassMixture(0).fit(xa, bernoulli, block)
