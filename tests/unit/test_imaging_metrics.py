"""Fréchet distance properties and the memorisation check on constructed data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ehrsynth.imaging.metrics import frechet_distance, memorisation, nearest_distances

features = arrays(np.float64, st.tuples(st.integers(3, 30), st.integers(1, 5)), elements=st.floats(-10, 10))


@settings(max_examples=50, deadline=None)
@given(a=features)
def test_frechet_of_a_set_with_itself_is_zero_and_shift_adds_squared_norm(a: np.ndarray) -> None:
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6 * (1 + np.abs(a).max() ** 2))
    shift = np.arange(1, a.shape[1] + 1, dtype=float)
    expected = float((shift**2).sum())
    assert frechet_distance(a, a + shift) == pytest.approx(
        expected, rel=1e-6, abs=1e-6 * (1 + np.abs(a).max() ** 2)
    )


@settings(max_examples=50, deadline=None)
@given(a=features, seed=st.integers(0, 2**31))
def test_frechet_is_symmetric_and_nonnegative(a: np.ndarray, seed: int) -> None:
    b = np.random.default_rng(seed).normal(size=(a.shape[0] + 2, a.shape[1])) * 3
    ab, ba = frechet_distance(a, b), frechet_distance(b, a)
    assert ab >= 0 and ab == pytest.approx(ba, rel=1e-6, abs=1e-6)


def test_frechet_of_two_gaussians_matches_closed_form() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, size=(200_000, 2))
    b = rng.normal(0, 2, size=(200_000, 2))
    # diagonal covariances: sum over dims of (sigma_a - sigma_b)^2 = 2 * (1 - 2)^2
    assert frechet_distance(a, b) == pytest.approx(2.0, rel=0.02)


def test_nearest_distances_match_brute_force() -> None:
    rng = np.random.default_rng(1)
    q, r = rng.normal(size=(37, 6)), rng.normal(size=(23, 6))
    brute = np.sqrt(((q[:, None, :] - r[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    assert np.allclose(nearest_distances(q, r, block=5), brute, atol=1e-4)


def test_memorisation_flags_copies_and_not_fresh_draws() -> None:
    rng = np.random.default_rng(2)
    train, holdout = rng.random((300, 64)), rng.random((150, 64))
    fresh = memorisation(rng.random((200, 64)), train, holdout, np.random.default_rng(0))
    assert 0.35 < fresh["closer_to_train_share"] < 0.65 and fresh["near_copies"] == 0
    copies = train[:200] + rng.normal(0, 1e-3, size=(200, 64))
    copied = memorisation(copies, train, holdout, np.random.default_rng(0))
    assert copied["near_copies"] == 200 and copied["near_copy_fraction"] == 1.0
    assert copied["closer_to_train_share"] > fresh["closer_to_train_share"]
    lo, hi = copied["closer_to_train_share_ci95"]
    assert lo <= copied["closer_to_train_share"] <= hi


def test_package_exports_are_the_functions_not_submodules() -> None:
    from ehrsynth.imaging import ImageGAN, evaluate, load_npz

    assert callable(evaluate) and callable(load_npz) and isinstance(ImageGAN, type)
    assert evaluate.__name__ == "evaluate"
