"""Marginal calibration: the DP prevalence release and the logit shifts applied after training."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.marginals import apply_shifts, logit_shifts, noisy_prevalences
from ehrsynth.errors import InvalidParameterError


def test_release_bounds_each_rows_contribution() -> None:
    # one row holding every code: with max_ones=2 it adds at most 2 to the counts, so at tiny noise the
    # released counts differ from the unbounded ones by exactly the dropped ones
    X = np.zeros((1000, 10), dtype=np.int64)
    X[0] = 1
    prev, mech = noisy_prevalences(X, noise_multiplier=1e-9, max_ones=2, rng=np.random.default_rng(0))
    # two codes keep their 1, the eight dropped ones fall to the floor 0.5/n
    assert np.allclose(np.sort(prev) * 1000, [0.5] * 8 + [1.0] * 2)
    assert mech.type == "gaussian" and mech.noise_multiplier == 1e-9 and mech.count == 1


def test_release_noise_scale_matches_sensitivity() -> None:
    X = np.zeros((10_000, 400), dtype=np.int64)
    X[:, :200] = 1  # prevalence 1 on half the columns, 0 on the rest
    prev, _ = noisy_prevalences(X, noise_multiplier=2.0, max_ones=400, rng=np.random.default_rng(1))
    # sigma = 2 * sqrt(400) = 40 counts = 0.004 in prevalence; clipping hides half the noise on each side
    raw_sd = np.std(prev[200:][prev[200:] > 0.5 / 10_000]) if (prev[200:] > 1e-4).any() else 0.0
    assert 0.002 < raw_sd < 0.006


def test_release_refuses_bad_parameters() -> None:
    X = np.zeros((10, 2))
    with pytest.raises(InvalidParameterError, match="max_ones"):
        noisy_prevalences(X, noise_multiplier=1.0, max_ones=0, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="noise_multiplier"):
        noisy_prevalences(X, noise_multiplier=0.0, max_ones=1, rng=np.random.default_rng(0))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.001, 0.999))
def test_shifts_hit_the_target_prevalence(seed: int, target: float) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.beta(0.5, 5.0, size=(2000, 3))
    shifted = apply_shifts(probs, logit_shifts(probs, np.full(3, target)))
    assert np.allclose(shifted.mean(axis=0), target, atol=1e-4)
    # a monotone map per column: the order of rows within a column is kept
    for j in range(3):
        assert (
            np.argsort(probs[:, j], kind="stable") == np.argsort(shifted[:, j], kind="stable")
        ).mean() > 0.99
