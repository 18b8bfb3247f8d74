"""DP domain discovery: thresholded category sets and code vocabulary, DP bounds over a fixed grid."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.accounting import Gaussian, compute_epsilon
from ehrsynth.dp.domain import (
    DEFAULT_RELEASE_DELTA,
    date_grid,
    default_grid,
    dp_bounds,
    grid_from_edges,
    linear_grid,
    noisy_category_sets,
    noisy_code_vocabulary,
    release_threshold,
    single_row_release_probability,
)
from ehrsynth.errors import InvalidDataError, InvalidParameterError


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


# -- code vocabulary ------------------------------------------------------------------------------------------
def _codes(n: int = 1500, d: int = 40) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(7)
    x = (rng.random((n, d)) < 0.25).astype(np.float32)
    x[:, 0] = 0
    x[3] = 0
    x[3, 0] = 1  # code c00: one patient, who has no other code (weight 1)
    x[:, 1] = 0
    x[5, 1] = 1  # code c01: one patient among many codes
    x[:, 2] = 0
    x[9, :] = 1  # a patient holding every code, among them c02 alone
    return x, [f"c{j:02d}" for j in range(d)]


@pytest.mark.parametrize("noise_multiplier", [0.5, 4.0])
def test_single_patient_code_never_released_common_ones_always(noise_multiplier: float) -> None:
    x, names = _codes()
    for seed in range(200):
        kept, mech = noisy_code_vocabulary(
            x, names, noise_multiplier=noise_multiplier, threshold=None, rng=np.random.default_rng(seed)
        )
        assert kept == names[3:]  # in column order; c00, c01, c02 are held by one patient each
    assert mech.name == "domain:codes" and mech.delta == pytest.approx(DEFAULT_RELEASE_DELTA, rel=1e-6)


def test_code_vocabulary_sparse_equals_dense_and_heavy_rows_are_capped() -> None:
    x, names = _codes()
    dense, _ = noisy_code_vocabulary(
        x, names, noise_multiplier=3.0, threshold=None, rng=np.random.default_rng(4)
    )
    sparse, _ = noisy_code_vocabulary(
        sp.csr_matrix(x), names, noise_multiplier=3.0, threshold=None, rng=np.random.default_rng(4)
    )
    assert dense == sparse
    # a row with more codes than the cap keeps a random subset; the rest of the vocabulary is unaffected
    capped, _ = noisy_code_vocabulary(
        x, names, noise_multiplier=3.0, threshold=None, rng=np.random.default_rng(4), max_codes_per_row=5
    )
    assert capped == names[3:]


def test_code_vocabulary_refuses_bad_input() -> None:
    x, names = _codes(50, 4)
    x[0, 2] = np.nan
    with pytest.raises(InvalidDataError, match="c02") as info:
        noisy_code_vocabulary(x, names, noise_multiplier=1.0, threshold=None, rng=np.random.default_rng(0))
    assert info.value.column == "c02"
    with pytest.raises(InvalidParameterError, match="names"):
        noisy_code_vocabulary(
            np.zeros((5, 3)), ["a", "b"], noise_multiplier=1.0, threshold=None, rng=np.random.default_rng(0)
        )
    with pytest.raises(InvalidParameterError, match="unique"):
        noisy_code_vocabulary(
            np.zeros((5, 2)), ["a", "a"], noise_multiplier=1.0, threshold=None, rng=np.random.default_rng(0)
        )


# -- bounds ---------------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.floats(-1e12, 1e12, allow_nan=False))
def test_every_value_lies_in_its_default_grid_bin(v: float) -> None:
    grid = default_grid()
    i = int(grid.index(np.array([v]))[0])
    clipped = min(max(v, -1e9), 1e9)
    assert grid.lower[i] <= clipped <= grid.upper[i]
    if v > 0:
        assert grid.lower[i] < v  # positives: (lower, upper]
    if v < 0:
        assert v < grid.upper[i]  # negatives: [lower, upper)


def test_dp_bounds_cover_the_bulk_and_are_grid_edges() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    age = rng.uniform(20, 90, n)
    visits = rng.poisson(3, n).astype(float)
    visits[::50] = np.nan  # missing values are ignored
    flag = rng.integers(0, 2, n)
    outlier = rng.normal(100, 5, n)
    outlier[0] = 1e8
    bounds, mech = dp_bounds(
        {"age": age, "visits": visits, "flag": flag, "zero": np.zeros(n), "outlier": outlier},
        noise_multiplier=2.0,
        rng=np.random.default_rng(1),
    )
    assert 15 < bounds["age"][0] <= 21 and 89 <= bounds["age"][1] < 113
    assert bounds["visits"][0] == 0.0 and 7 <= bounds["visits"][1] <= 13
    assert bounds["flag"] == (0.0, 1.0)
    assert bounds["zero"] == (0.0, 0.0)
    assert bounds["outlier"][1] < 200  # one extreme row does not move the 99% quantile
    edges = set(default_grid().lower) | set(default_grid().upper)
    assert all(b in edges for pair in bounds.values() for b in pair)
    assert mech == Gaussian("domain:bounds", 2.0, count=1)  # fixed grid: no threshold δ


def test_dp_bounds_with_a_date_grid() -> None:
    days = (
        pd.date_range("2000-01-01", "2009-12-31", periods=5000) - pd.Timestamp("1970-01-01")
    ).days.to_numpy()
    grid = date_grid()
    bounds, _ = dp_bounds(
        {"admit": days.astype(float)},
        noise_multiplier=1.0,
        rng=np.random.default_rng(0),
        grids={"admit": grid},
        quantiles=(0.0, 1.0),
    )
    lo, hi = (pd.Timestamp("1970-01-01") + pd.Timedelta(days=b) for b in bounds["admit"])
    assert lo == pd.Timestamp("2000-01-01")  # edges are calendar quarter starts
    assert hi == pd.Timestamp("2010-01-01")
    assert len(grid) == 800


def test_dp_bounds_no_signal_falls_back_to_public_range_not_a_random_bin(caplog: Any) -> None:
    cols = {f"dx_{i}": np.zeros(50) for i in range(200)}  # many rare 0/1 codes: sigma grows with sqrt(200)
    for seed in range(3):
        bounds, _ = dp_bounds(cols, noise_multiplier=5.0, rng=np.random.default_rng(seed))
        assert set(bounds.values()) == {(0.0, 1.0)}
    assert sum("no histogram bin passed" in r.getMessage() for r in caplog.records) == 3  # one per call
    grid = linear_grid(10.0, 20.0, 10)
    bounds, _ = dp_bounds(
        {"x": np.array([15.0])}, noise_multiplier=50.0, rng=np.random.default_rng(0), grids={"x": grid}
    )
    lo, hi = bounds["x"]
    assert 10.0 <= lo <= hi <= 20.0


@pytest.mark.parametrize("quantiles", [(0.5, 0.5), (-0.1, 0.9), (0.1, 1.1)])
def test_dp_bounds_refuses_bad_quantiles(quantiles: Any) -> None:
    with pytest.raises(InvalidParameterError, match="quantiles"):
        dp_bounds(
            {"x": np.arange(10.0)}, noise_multiplier=1.0, rng=np.random.default_rng(0), quantiles=quantiles
        )


def test_dp_bounds_refuses_non_numeric_and_bad_grids() -> None:
    with pytest.raises(InvalidDataError, match="'name'") as info:
        dp_bounds({"name": np.array(["a", "b"])}, noise_multiplier=1.0, rng=np.random.default_rng(0))
    assert info.value.column == "name"
    with pytest.raises(InvalidParameterError):
        linear_grid(5.0, 1.0, 10)
    with pytest.raises(InvalidParameterError):
        grid_from_edges([0.0, float("inf")])
    grid = linear_grid(0.0, 10.0, 5)
    assert list(grid.index(np.array([-3.0, 0.0, 1.99, 2.0, 10.0, 99.0]))) == [0, 0, 0, 1, 4, 4]


def test_empty_inputs_charge_nothing() -> None:
    rng = np.random.default_rng(0)
    assert noisy_category_sets({}, noise_multiplier=1.0, threshold=None, rng=rng)[1].count == 0
    assert dp_bounds({}, noise_multiplier=1.0, rng=rng)[1].count == 0
    assert compute_epsilon([dp_bounds({}, noise_multiplier=1.0, rng=rng)[1]], 1e-6) == 0.0


def test_spread_out_column_gets_bounds_from_grouped_bins_not_the_fallback() -> None:
    # a lab value spread over ~10 log bins: no single bin clears the threshold, groups of adjacent bins do
    rng = np.random.default_rng(3)
    cols = {f"lab{i}": np.exp(rng.uniform(np.log(100), np.log(1000), 1500)) for i in range(20)}
    bounds, _ = dp_bounds(cols, noise_multiplier=10.0, rng=np.random.default_rng(4))
    for lo, hi in bounds.values():
        assert (lo, hi) != (0.0, 1.0)
        assert 50.0 <= lo <= 400.0 < hi <= 2000.0  # inside or around the bulk (100, 1000), never (0, 1)


def test_grouped_bins_never_straddle_zero_so_0_1_columns_keep_a_zero_lower_bound() -> None:
    # rare 0/1 codes under heavy noise: the zero bin may only pass once grouped, and must stay its own group
    rng = np.random.default_rng(5)
    cols = {f"dx_{i}": (rng.random(900) < 0.01).astype(float) for i in range(300)}
    for seed in range(5):
        bounds, _ = dp_bounds(cols, noise_multiplier=2.0, rng=np.random.default_rng(seed))
        assert min(lo for lo, _ in bounds.values()) >= 0.0
