"""Canary construction for the DP audit: valid under the declared schema, distinctive, reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import code_columns

from ehrsynth.dp_verify.canaries import CODE_FRACTION, codes_per_canary, draw_inclusion, make_canaries
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


def test_other_columns_use_uniform_categories_extremes_and_fresh_ids() -> None:
    df = table()
    schema = Schema.infer(df)
    can = make_canaries(df, schema, 400, np.random.default_rng(2))
    assert set(can["bmi"]) <= {df["bmi"].min(), df["bmi"].max()}
    assert set(can["visits"]) <= {df["visits"].min(), df["visits"].max()}
    assert set(can["admitted"]) <= {df["admitted"].min(), df["admitted"].max()}
    assert len(set(can["bmi"])) == 2
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
