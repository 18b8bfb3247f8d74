"""Canary construction for the DP audit: valid under the declared schema, distinctive, reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import code_columns

from ehrsynth.dp_verify.canaries import CODE_FRACTION, codes_per_canary, draw_inclusion, make_canaries
from ehrsynth.dp_verify.gap_canaries import canary_gaps, gap_items, released_gap_scores
from ehrsynth.dp_verify.pair_canaries import make_pair_canaries, signature_items
from ehrsynth.errors import InvalidParameterError, SchemaError
from ehrsynth.schema import Kind, Schema


def table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = code_columns(rng, n, 20, 0.01, 0.3, digits=2)
    df.insert(0, "patient_id", np.arange(5000, 5000 + n))
    df.insert(1, "sex", rng.choice(["F", "M"], n))
    df.insert(2, "stage", rng.choice(["I", "II", "III", "IV"], n, p=[0.5, 0.3, 0.15, 0.05]))
    df["race"] = pd.Series(rng.choice(["A", "B", "C"], n), dtype=object)
    df.loc[:9, "race"] = None  # nullable categorical
    df["visits"] = rng.poisson(2, n)
    df["bmi"] = np.round(rng.normal(27, 4, n), 1)
    days = pd.date_range("2001-01-01", periods=60, freq="D").strftime("%Y-%m-%d")
    df["admitted"] = rng.choice(np.asarray(days, dtype=object), n)
    return df


def test_canaries_are_valid_under_the_declared_schema_and_keep_dtypes() -> None:
    df = table()
    schema = Schema.infer(df)
    can = make_canaries(df, schema, 50, np.random.default_rng(0))
    assert list(can.columns) == list(df.columns)
    assert len(can) == 50
    schema.validate(pd.concat([df, can], ignore_index=True), strict=True)
    for col in df.columns:
        assert can[col].dtype == df[col].dtype, col
    assert not can.isna().any().any()  # canaries are never missing a value


def test_binary_patterns_are_distinct_and_carry_many_codes() -> None:
    df = table()
    schema = Schema.infer(df)
    can = make_canaries(df, schema, 200, np.random.default_rng(1))
    codes = can[[c for c in df.columns if c.startswith("dx_")]].to_numpy()
    k = codes_per_canary(20)
    assert k == round(CODE_FRACTION * 20) == 4
    assert (codes.sum(axis=1) == k).all()
    assert len({tuple(row) for row in codes}) >= 195  # C(20, 4) = 4845 patterns: nearly all distinct
    real = {tuple(row) for row in df[[c for c in df.columns if c.startswith("dx_")]].to_numpy()}
    assert sum(tuple(row) in real for row in codes) <= 2  # combinations (almost) no real patient has


def test_other_columns_use_uniform_categories_extremes_gaps_and_fresh_ids() -> None:
    df = table()
    schema = Schema.infer(df)
    can = make_canaries(df, schema, 400, np.random.default_rng(2))
    gaps = gap_items(df, schema)
    assert set(can["bmi"]) <= {df["bmi"].min(), df["bmi"].max()}  # decimals: no gaps, extremes only
    assert len(set(can["bmi"])) == 2
    extreme = {df["visits"].min(), df["visits"].max(), df["admitted"].min(), df["admitted"].max()}
    off = [v for col in ("visits", "admitted") for v in can[col] if v not in extreme]
    assert len(off) == len(gaps) and len(set(off)) == len(off)  # every gap used once, by its own canary
    stage_share = can["stage"].value_counts(normalize=True)
    assert stage_share["IV"] > 0.15  # rare in the data (5%), uniform among canaries
    assert set(can["race"]) <= {"A", "B", "C"}
    ids = set(can["patient_id"])
    assert len(ids) == 400 and not ids & set(df["patient_id"])
    assert schema["patient_id"].kind is Kind.IDENTIFIER
    assert schema["admitted"].kind is Kind.DATETIME


def test_reproducible_with_the_same_generator() -> None:
    df = table()
    schema = Schema.infer(df)
    a = make_canaries(df, schema, 30, np.random.default_rng(7))
    b = make_canaries(df, schema, 30, np.random.default_rng(7))
    pd.testing.assert_frame_equal(a, b)
    assert draw_inclusion(100, np.random.default_rng(3)).tolist() == (
        draw_inclusion(100, np.random.default_rng(3)).tolist()
    )


def test_inclusion_is_a_fair_coin() -> None:
    draws = draw_inclusion(10_000, np.random.default_rng(0))
    assert draws.dtype == bool
    assert abs(draws.mean() - 0.5) < 0.02


def test_table_without_binary_columns() -> None:
    df = table()[["patient_id", "sex", "stage", "bmi"]]
    schema = Schema.infer(df)
    can = make_canaries(df, schema, 20, np.random.default_rng(0))
    schema.validate(pd.concat([df, can], ignore_index=True), strict=True)
    assert codes_per_canary(0) == 0


def test_errors_name_the_problem() -> None:
    df = table()
    schema = Schema.infer(df)
    with pytest.raises(InvalidParameterError, match="positive integer"):
        make_canaries(df, schema, 0, np.random.default_rng(0))
    with pytest.raises(SchemaError, match="lacks"):
        make_canaries(df.drop(columns=["bmi"]), schema, 5, np.random.default_rng(0))
    with pytest.raises(SchemaError, match="does not list"):
        make_canaries(df.assign(extra=1), schema, 5, np.random.default_rng(0))


def numbers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A numbers-led table: a lab count with a sparse upper tail (gaps), a dense count, a decimal number."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "labs": np.round(np.exp(rng.normal(3.5, 0.6, n))).astype(np.int64),
            "visits": rng.poisson(30, n),
            "bmi": np.round(rng.normal(27, 4, n), 1),
        }
    )


def test_gap_canaries_take_unique_values_that_no_row_holds() -> None:
    df = numbers()
    schema = Schema.infer(df)
    gaps = gap_items(df, schema)
    assert len(gaps) >= 30 and {name for name, _ in gaps} <= {"labs", "visits"}
    for name, value in gaps:
        assert df[name].min() < value < df[name].max() and value not in set(df[name])
    can = make_canaries(df, schema, 200, np.random.default_rng(0))
    schema.validate(pd.concat([df, can], ignore_index=True), strict=True)
    found = canary_gaps(can, df, schema)
    held = [g for g in found if g is not None]
    assert len(held) == min(200, len(gaps)) and len(set(held)) == len(held)


def test_released_gap_score_separates_trained_on_gap_canaries() -> None:
    from ehrsynth.transforms.marginals import exact_marginals

    df = numbers()
    schema = Schema.infer(df)
    rng = np.random.default_rng(1)
    can = make_canaries(df, schema, 100, rng)
    member = draw_inclusion(100, rng)
    released = exact_marginals(schema, pd.concat([df, can[member]], ignore_index=True))
    fallback = rng.random(100)
    score = released_gap_scores(released, can, df, schema, fallback, len(df), rng)
    gap = np.array([g is not None for g in canary_gaps(can, df, schema)])
    assert gap.sum() >= 30
    assert (score[gap & member] > 0.3).all() and (score[gap & ~member] < -0.4).all()
    assert (np.abs(score[~gap]) < 0.2).all()  # no gap: the fallback's ranks, between the two
    order = np.argsort(fallback[~gap])
    assert (np.diff(score[~gap][order]) > 0).all()


def test_pair_canaries_have_rare_disjoint_signatures() -> None:
    df = table()
    schema = Schema.infer(df)
    can = make_pair_canaries(df, schema, 30, np.random.default_rng(0), signature_size=4)
    schema.validate(pd.concat([df, can], ignore_index=True), strict=True)
    codes = [c for c in df.columns if c.startswith("dx_")]
    on = can[codes].to_numpy() != 0
    assert (on.sum(axis=1) == 4).all()
    pairs = [(a, b) for row in on for a in np.flatnonzero(row) for b in np.flatnonzero(row) if a < b]
    uses = pd.Series(pairs).value_counts()
    assert uses.max() <= 3 and len({tuple(np.flatnonzero(row)) for row in on}) == 30  # rarely shared
    base = df[codes].to_numpy().astype(float)
    co = base.T @ base
    assert np.mean([co[a, b] for a, b in pairs]) < 0.5 * co[np.triu_indices(20, 1)].mean()
    assert can["sex"].nunique() == 1 and can["bmi"].nunique() == 1  # filler shared by every canary
    sigs = signature_items(np.column_stack([on, np.ones((30, 1), dtype=bool)]))
    assert [list(s) for s in sigs] == [list(np.flatnonzero(row)) for row in on]


def test_pair_canaries_fall_back_to_categories_without_codes() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"c{j}": rng.choice(list("abcde"), 200) for j in range(6)})
    schema = Schema.infer(df)
    can = make_pair_canaries(df, schema, 30, np.random.default_rng(1), signature_size=4)
    modes = {c: df[c].value_counts().index[0] for c in df.columns}
    assert ((can != pd.Series(modes)).sum(axis=1) == 4).all()
    with pytest.raises(InvalidParameterError, match="at least 4"):
        make_pair_canaries(df[["c0", "c1"]], Schema.infer(df[["c0", "c1"]]), 5, rng)


def test_pair_canaries_on_bool_codes_stay_bool() -> None:
    """Bool code columns (True/False) take True in a signature, so the canaries pass the schema (an int 1
    turned the column into objects and the measure-engine audit refused the table)."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"flag_{j}": rng.random(300) < 0.2 for j in range(10)})
    schema = Schema.infer(df)
    can = make_pair_canaries(df, schema, 20, rng, signature_size=4)
    assert all(pd.api.types.is_bool_dtype(can[c]) for c in df.columns)
    assert (can.sum(axis=1) == 4).all()
    schema.validate(pd.concat([df, can], ignore_index=True), strict=True)
