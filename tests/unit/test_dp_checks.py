"""One rule for a valid (ε, δ) (ehrsynth.dp.checks), shared by the estimators' constraints, DPConfig, noise
calibration, accounting and the DP audit: a value one of them refuses, all of them refuse."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehrsynth.dp.accounting import PoissonGaussian, compute_epsilon
from ehrsynth.dp.budget import DPConfig
from ehrsynth.dp.calibration import Phase, calibrate_noise
from ehrsynth.dp.checks import check_delta, check_epsilon, is_delta, is_epsilon, resolve_delta
from ehrsynth.errors import PrivacyBudgetError
from ehrsynth.params import DELTA, EPSILON

BAD_EPSILONS: list[Any] = [0, 0.0, -1.0, math.inf, math.nan, True, "3", None]
BAD_DELTAS: list[Any] = [0, 0.0, 1.0, 1.5, -1e-6, math.nan, True, "1e-5", None]


@pytest.mark.parametrize("value", [1e-6, 0.5, 1, 3.0, 100, np.float64(2.0), np.int64(4)])
def test_valid_epsilons_pass_everywhere(value: Any) -> None:
    assert is_epsilon(value) and check_epsilon(value) == float(value)
    assert EPSILON.check(value) is None
    assert (
        DPConfig.resolve(epsilon=value, delta=None, accountant="rdp", n=1000, min_rows=100).epsilon == value
    )


@pytest.mark.parametrize("value", BAD_EPSILONS)
def test_bad_epsilons_are_refused_everywhere(value: Any) -> None:
    assert not is_epsilon(value)
    with pytest.raises(PrivacyBudgetError, match="epsilon must be a positive finite number"):
        check_epsilon(value)
    if value is not None:  # None is "no DP" for an estimator
        assert EPSILON.check(value) is not None
    with pytest.raises(PrivacyBudgetError, match="epsilon"):
        DPConfig.resolve(epsilon=value, delta=None, accountant="rdp", n=1000, min_rows=100)
    with pytest.raises(PrivacyBudgetError, match="epsilon"):
        calibrate_noise([Phase("p", 0.01, 10)], epsilon=value, delta=1e-5, accountant="rdp")


@pytest.mark.parametrize("value", BAD_DELTAS)
def test_bad_deltas_are_refused_everywhere(value: Any) -> None:
    assert not is_delta(value)
    with pytest.raises(PrivacyBudgetError, match="delta"):
        check_delta(value)
    if value is not None:  # None is "the default" for an estimator
        assert DELTA.check(value) is not None
        with pytest.raises(PrivacyBudgetError, match="delta"):
            DPConfig.resolve(epsilon=1.0, delta=value, accountant="rdp", n=1000, min_rows=100)
    with pytest.raises(PrivacyBudgetError, match="delta"):
        compute_epsilon([PoissonGaussian("p", 1.0, 0.01, 10)], value, accountant="rdp")


def test_delta_must_be_below_one_over_n_and_defaults_below_it() -> None:
    assert resolve_delta(None, 1000, default=1e-5) == 1e-5
    assert resolve_delta(5e-4, 1000, default=1e-5) == 5e-4
    with pytest.raises(PrivacyBudgetError, match=r"\(0, 1/n\) = \(0, 0.001\) for n = 1000 images"):
        resolve_delta(2e-3, 1000, default=1e-5, unit="images")
    with pytest.raises(PrivacyBudgetError, match="delta must be in"):
        DPConfig.resolve(epsilon=1.0, delta=2e-3, accountant="rdp", n=1000, min_rows=100)


@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(1, 10**7))
def test_delta_rule_is_the_open_interval(value: float, n: int) -> None:
    assert is_delta(value, n) == (0 < value < 1.0 / n)
    assert is_delta(value) == (0 < value < 1)
    assert is_epsilon(value) == (0 < value < math.inf)


def test_dp_audit_uses_the_same_rules() -> None:
    from ehrsynth.dp_verify.runner import dp_audit

    rng = np.random.default_rng(0)
    df = pd.DataFrame((rng.random((150, 4)) < 0.3).astype(np.uint8), columns=list("abcd"))
    with pytest.raises(PrivacyBudgetError, match="epsilon must be a positive finite number"):
        dp_audit(df, epsilon=math.inf, canaries=20)
    with pytest.raises(PrivacyBudgetError, match="rows and canaries"):
        dp_audit(df, epsilon=1.0, delta=0.01, canaries=20)
