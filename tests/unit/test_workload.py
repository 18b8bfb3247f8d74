"""ehrsynth.evaluation.workload: per-column fidelity and the AIM/GEM workload error."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.errors import InvalidParameterError
from ehrsynth.evaluation.workload import (
    FIDELITY_COLUMNS,
    column_fidelity,
    discretise,
    fidelity_summary,
    pairwise_tvd,
    sample_triples,
    triple_errors,
    workload_error,
    workload_floor,
)


def dependent_table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Two code blocks driven by one latent factor, a category and a number that follow it."""
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    out = {f"dx_{j}": (rng.random(n) < np.where(z, 0.7, 0.05)).astype(int) for j in range(6)}
    out["sex"] = np.where(z, "F", "M")
    out["age"] = np.where(z, 70.0, 40.0) + rng.normal(0, 3, n)
    age = pd.Series(out["age"])
    age[rng.random(n) < 0.1] = np.nan
    out["age"] = age
    return pd.DataFrame(out)


def brute_force_tvd(real: pd.DataFrame, synth: pd.DataFrame, cols: tuple[str, ...]) -> float:
    """TVD of one marginal from the discretised codes, by pandas value counts (the definition)."""
    coded = discretise(real, synth)
    idx = [coded.names.index(c) for c in cols]
    p = pd.Series(map(tuple, coded.real[:, idx])).value_counts(normalize=True)
    q = pd.Series(map(tuple, coded.synth[:, idx])).value_counts(normalize=True)
    return 0.5 * float(p.sub(q, fill_value=0).abs().sum())


def test_identical_tables_have_zero_error() -> None:
    df = dependent_table()
    w = workload_error(df, df.copy(), n_triples=50)
    assert w.tvd_1way_mean == 0 and w.tvd_2way_mean == 0 and w.tvd_3way_mean == 0
    assert w.query_error_2way_max == 0 and w.query_error_3way_max == 0
    assert w.n_pairs == 28 and w.n_triples == 50
    fid = column_fidelity(df, df.copy())
    assert list(fid.columns) == FIDELITY_COLUMNS
    assert (fid["value"] == 0).all() and (fid["outside_range"] == 0).all()


def test_shuffled_dependent_table_is_penalised_and_is_the_floor() -> None:
    df = dependent_table()
    floor = workload_floor(df, n_triples=56, random_state=1)
    assert floor.tvd_1way_mean == pytest.approx(0.0, abs=1e-12)  # shuffling keeps every 1-way marginal
    assert floor.tvd_2way_mean > 0.05 and floor.tvd_3way_mean > floor.tvd_2way_mean * 0.5
    assert floor.n_triples == 56  # C(8, 3): every triple when there are fewer than asked


def test_pairwise_matrix_matches_the_definition() -> None:
    real = dependent_table(seed=0)
    synth = dependent_table(seed=1).sample(frac=0.7, random_state=0)  # different size too
    coded = discretise(real, synth)
    matrix, _, _ = pairwise_tvd(coded)
    for a, b in [("dx_0", "dx_1"), ("sex", "age"), ("dx_3", "age")]:
        i, j = coded.names.index(a), coded.names.index(b)
        assert matrix[i, j] == pytest.approx(brute_force_tvd(real, synth, (a, b)))
    triples = np.array([[0, 6, 7], [1, 2, 3]])
    tvd3, _, _ = triple_errors(coded, triples)
    assert tvd3[0] == pytest.approx(brute_force_tvd(real, synth, ("dx_0", "sex", "age")))
    assert tvd3[1] == pytest.approx(brute_force_tvd(real, synth, ("dx_1", "dx_2", "dx_3")))


def test_query_errors_bound_the_tvd() -> None:
    real, synth = dependent_table(seed=0), dependent_table(seed=2)
    w = workload_error(real, synth, n_triples=20)
    assert 0 < w.query_error_2way_mean <= w.query_error_2way_max <= 1
    assert w.tvd_2way_max >= w.query_error_2way_max  # a TVD is at least its largest cell difference
    assert w.tvd_2way_mean <= w.tvd_2way_max


def test_missing_and_unseen_values_get_their_own_cells() -> None:
    real = pd.DataFrame({"c": ["a", "b"] * 50, "x": np.arange(100.0)})
    synth = pd.DataFrame({"c": ["a", "zzz"] * 50, "x": [np.nan] * 100})
    coded = discretise(real, synth)
    assert coded.sizes.tolist() == [3, 11]  # a, b, other; 10 bins + missing
    fid = column_fidelity(real, synth).set_index("column")
    assert fid.loc["c", "outside_range"] == pytest.approx(0.5)
    assert fid.loc["x", "synth_missing"] == 1.0 and fid.loc["x", "real_missing"] == 0.0
    summary = fidelity_summary(column_fidelity(real, synth))
    assert summary["missing_error_max"] == 1.0 and summary["missing_error_max_column"] == "x"


def test_numbers_outside_the_real_range_are_reported() -> None:
    real = pd.DataFrame({"x": np.linspace(0, 10, 200)})
    synth = pd.DataFrame({"x": np.linspace(5, 15, 200)})
    row = column_fidelity(real, synth).iloc[0]
    assert row["metric"] == "ks" and row["value"] == pytest.approx(0.5, abs=0.01)
    assert row["outside_range"] == pytest.approx(0.5, abs=0.01)
    assert (row["real_min"], row["real_max"], row["synth_max"]) == (0.0, 10.0, 15.0)


def test_triples_are_seeded_and_distinct() -> None:
    a, b = sample_triples(30, 200, 7), sample_triples(30, 200, 7)
    assert np.array_equal(a, b)
    assert len({tuple(t) for t in a}) == 200
    assert (a[:, 0] < a[:, 1]).all() and (a[:, 1] < a[:, 2]).all()
    assert not np.array_equal(a, sample_triples(30, 200, 8))
    assert len(sample_triples(5, 100)) == math.comb(5, 3)


def test_bad_parameters_are_refused() -> None:
    df = dependent_table(n=50)
    with pytest.raises(InvalidParameterError, match="n_bins"):
        workload_error(df, df, n_bins=1)
    with pytest.raises(InvalidParameterError, match="n_triples"):
        workload_error(df, df, n_triples=-1)


small_tables = st.integers(min_value=0, max_value=2**31 - 1).map(
    lambda seed: tuple(
        pd.DataFrame(
            {
                "a": rng.integers(0, 2, size=n),
                "b": rng.choice(["x", "y", "z"], size=n),
                "c": rng.normal(size=n),
                "d": rng.integers(0, 2, size=n),
            }
        )
        for rng, n in ((np.random.default_rng(seed), 40), (np.random.default_rng(seed + 1), 30))
    )
)


@settings(max_examples=25, deadline=None)
@given(small_tables)
def test_every_tvd_is_in_the_unit_interval(tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    real, synth = tables
    coded = discretise(real, synth)
    matrix, q_mean, q_max = pairwise_tvd(coded)
    assert ((matrix >= -1e-12) & (matrix <= 1 + 1e-12)).all()
    assert 0 <= q_mean <= q_max <= 1
    tvd3, _, _ = triple_errors(coded, np.array(list(itertools.combinations(range(4), 3))))
    assert ((tvd3 >= -1e-12) & (tvd3 <= 1 + 1e-12)).all()
    fid = column_fidelity(real, synth)
    assert fid["value"].between(0, 1).all()
