"""Marginal calibration: the DP prevalence release and the logit shifts applied after training."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.marginals import apply_shifts, logit_shifts, softmax_shifts


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


def test_softmax_shifts_match_a_target_distribution() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 2.0, size=(4000, 5))
    target = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    b = softmax_shifts(logits, target)
    z = logits + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.allclose(p.mean(axis=0), target, atol=1e-3)
