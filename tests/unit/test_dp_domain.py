"""DP domain discovery: thresholded category sets and code vocabulary, DP bounds over a fixed grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrsynth.dp.accounting import Gaussian, compute_epsilon
from ehrsynth.dp.domain import (
    DEFAULT_RELEASE_DELTA,
    noisy_category_sets,
    release_threshold,
    single_row_release_probability,
)
from ehrsynth.errors import InvalidParameterError


def _table(n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(123)
    df = pd.DataFrame(
        {
            "race": rng.choice(["Caucasian", "AfricanAmerican", "Hispanic"], n, p=[0.6, 0.25, 0.15]),
            "admission_type_id": rng.choice([1, 2, 3], n),
            "a1c": rng.choice(
                np.array(["None", ">7", "Norm", None], dtype=object), n, p=[0.5, 0.2, 0.2, 0.1]
            ),
        }
    )
    df.loc[17, "race"] = "Pacific Islander (only one patient)"
    df.loc[42, "admission_type_id"] = 99
    return df


# -- thresholds -----------------------------------------------------------------------------------------------
def test_threshold_and_release_probability_are_inverse() -> None:
    for sigma, m in [(1.0, 1), (12.0, 5), (80.0, 256)]:
        tau = release_threshold(sigma, m)
        assert single_row_release_probability(tau, sigma, m) == pytest.approx(DEFAULT_RELEASE_DELTA, rel=1e-6)
        assert tau > 1 + 6 * sigma  # "a documented multiple of σ plus a floor of one row"


def test_release_probability_matches_simulation() -> None:
    # the bound is the exact chance that one row's count (1) plus N(0, σ²) passes τ, times m
    rng = np.random.default_rng(0)
    sigma, tau = 2.0, 1 + 2.0 * 1.2815515655446004  # Φ̄(1.2816) = 0.1
    observed = float(np.mean(1 + rng.normal(0, sigma, 200_000) > tau))
    assert observed == pytest.approx(0.1, abs=0.003)
    assert single_row_release_probability(tau, sigma, 1) == pytest.approx(0.1, rel=1e-6)
    assert single_row_release_probability(tau, sigma, 3) == pytest.approx(0.3, rel=1e-6)


# -- category sets --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("noise_multiplier", [0.5, 3.0])
def test_single_patient_category_never_released_common_ones_always(noise_multiplier: float) -> None:
    df = _table()
    columns = {c: df[c] for c in df.columns}
    for seed in range(200):
        released, mech = noisy_category_sets(
            columns, noise_multiplier=noise_multiplier, threshold=None, rng=np.random.default_rng(seed)
        )
        assert "Pacific Islander (only one patient)" not in released["race"]
        assert 99 not in released["admission_type_id"]
        assert released["race"] == ["AfricanAmerican", "Caucasian", "Hispanic"]
        assert released["admission_type_id"] == [1, 2, 3]
        assert released["a1c"] == [">7", "None", "Norm"]  # missing is not a category; sorted by value
    assert mech == Gaussian("domain:categories", noise_multiplier, count=1, delta=mech.delta)
    assert mech.delta == pytest.approx(DEFAULT_RELEASE_DELTA, rel=1e-6)


def test_category_release_uses_sqrt_k_noise_and_plain_values() -> None:
    df = _table()
    released, _ = noisy_category_sets(
        {"admission_type_id": df["admission_type_id"]},
        noise_multiplier=1.0,
        threshold=None,
        rng=np.random.default_rng(0),
    )
    assert all(type(v) is int for v in released["admission_type_id"])  # JSON-ready, not numpy scalars
    # with k columns, σ = noise_multiplier·√k, so the default threshold grows with √k
    counts = pd.Series(["a"] * 30 + ["b"] * 5)
    one, _ = noisy_category_sets(
        {"x": counts}, noise_multiplier=1.0, threshold=None, rng=np.random.default_rng(1)
    )
    many, _ = noisy_category_sets(
        {f"x{i}": counts for i in range(100)},
        noise_multiplier=1.0,
        threshold=None,
        rng=np.random.default_rng(1),
    )
    assert one["x"] == ["a"]  # τ ≈ 7.4 for k = 1
    assert all(v == [] for v in many.values())  # τ ≈ 71 for k = 100 (σ = 10): 30 rows are not enough


def test_category_release_does_not_depend_on_row_order() -> None:
    df = _table()
    shuffled = df.sample(frac=1.0, random_state=5)
    a, _ = noisy_category_sets(
        {c: df[c] for c in df}, noise_multiplier=8.0, threshold=None, rng=np.random.default_rng(9)
    )
    b, _ = noisy_category_sets(
        {c: shuffled[c] for c in df}, noise_multiplier=8.0, threshold=None, rng=np.random.default_rng(9)
    )
    assert a == b


def test_too_low_explicit_threshold_is_refused() -> None:
    df = _table()
    with pytest.raises(InvalidParameterError, match="single row"):
        noisy_category_sets(
            {"race": df["race"]}, noise_multiplier=1.0, threshold=2.0, rng=np.random.default_rng(0)
        )
    with pytest.raises(InvalidParameterError, match="Generator"):
        noisy_category_sets({"race": df["race"]}, noise_multiplier=1.0, threshold=None, rng=0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="noise_multiplier"):
        noisy_category_sets(
            {"race": df["race"]}, noise_multiplier=0.0, threshold=None, rng=np.random.default_rng(0)
        )


def test_explicit_high_threshold_is_accounted() -> None:
    df = _table()
    _, mech = noisy_category_sets(
        {"race": df["race"]}, noise_multiplier=2.0, threshold=60.0, rng=np.random.default_rng(0)
    )
    assert mech.delta == pytest.approx(single_row_release_probability(60.0, 2.0, 1))
    assert compute_epsilon([mech], 1e-6) == compute_epsilon([Gaussian("g", 2.0)], 1e-6 - mech.delta)
