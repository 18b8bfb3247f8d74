from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehrsynth.schema import Kind, Schema
from ehrsynth.transforms import SpanKind, TableTransformer
from ehrsynth.transforms.marginals import exact_marginals


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 30))
    cols: dict[str, object] = {}
    n_cols = draw(st.integers(1, 5))
    for i in range(n_cols):
        kind = draw(st.sampled_from(["binary", "count", "cat", "cont", "date"]))
        with_nan = draw(st.booleans())
        if kind == "binary":
            values = draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
            s = pd.Series(values, dtype="int64")
        elif kind == "count":
            s = pd.Series(draw(st.lists(st.integers(0, 500), min_size=n, max_size=n)), dtype="int64")
        elif kind == "cat":
            s = pd.Series(draw(st.lists(st.sampled_from(["a", "b", "c d", "é"]), min_size=n, max_size=n)))
        elif kind == "cont":
            vals = draw(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=n, max_size=n))
            s = pd.Series(np.round(vals, 2))
        else:
            days = draw(st.lists(st.integers(0, 20000), min_size=n, max_size=n))
            s = pd.Series(pd.Timestamp("1970-01-01") + pd.to_timedelta(days, unit="D"))
        if with_nan and n > 2:
            s = s.astype("float64") if kind in ("binary", "count") else s.astype(object)
            s.iloc[0] = np.nan if kind != "date" else pd.NaT
            if kind == "date":
                s = pd.to_datetime(s)
        if s.isna().all():
            continue
        cols[f"c{i}_{kind}"] = s
    if not cols:
        cols["fallback"] = pd.Series([0, 1] * (n // 2) + [0] * (n % 2))
    return pd.DataFrame(cols)


def _equal(a: pd.Series, b: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(a) and pd.api.types.is_integer_dtype(b):  # uint8 codes vs int64 input
        return bool(np.array_equal(a.to_numpy(), b.to_numpy()))
    if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
        return bool(np.allclose(a.to_numpy(), b.to_numpy(), equal_nan=True, rtol=1e-9, atol=1e-9))
    return bool(a.reset_index(drop=True).equals(b.reset_index(drop=True)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.booleans())
def test_encode_decode_round_trip(df: pd.DataFrame, released: bool) -> None:
    schema = Schema.infer(df)
    if released:  # numbers encoded through their exact distribution (quantile bins), as a fit does
        schema = exact_marginals(schema, df)
    t = TableTransformer(schema)
    X = t.encode(df, dtype=np.float64)
    assert X.shape == (len(df), t.width)
    assert np.all((X >= 0) & (X <= 1))
    back = t.decode(X)
    for col in schema:
        if col.kind is Kind.IDENTIFIER:
            continue
        assert str(back[col.name].dtype) == str(df[col.name].dtype), col.name
        assert _equal(back[col.name], df[col.name]), col.name
    # sampling from exact 0/1 probabilities reproduces the data too
    again = t.decode(X, random_state=np.random.default_rng(0))
    for col in schema:
        if col.kind in (Kind.BINARY, Kind.CATEGORICAL):
            assert _equal(again[col.name], df[col.name])


def test_layout_spans_and_identifiers() -> None:
    df = pd.DataFrame(
        {
            "pid": list(range(100, 130)),
            "race": ["a", None, "b"] * 10,
            "lab": [1.5, None, 2.5] * 10,
            "dx": [0, 1, 1] * 10,
        }
    )
    t = TableTransformer(Schema.infer(df))
    kinds = [(s.column, s.kind, s.width) for s in t.layout]
    lab_bins = t.codecs["lab"].n_bins
    assert kinds == [
        ("race", SpanKind.SOFTMAX, 3),
        ("lab", SpanKind.SOFTMAX, lab_bins + 1),  # quantile bins + the missing cell
        ("lab", SpanKind.SCALED, 1),  # the position inside the bin
        ("dx", SpanKind.BINARY, 1),
    ]
    out = t.decode(t.encode(df))
    assert list(out.columns) == list(df.columns)
    assert out["pid"].tolist() == list(
        range(900_000_000_001, 900_000_000_031)
    )  # fresh keys, never the input's
    assert out["race"].isna().sum() == 10


def test_sampling_follows_probabilities() -> None:
    df = pd.DataFrame({"dx": [0, 1] * 50})
    t = TableTransformer(Schema.infer(df))
    probs = np.full((20000, 1), 0.3)
    out = t.decode(probs, random_state=np.random.default_rng(1))
    assert abs(out["dx"].mean() - 0.3) < 0.02


def test_surrogate_keys_keep_a_numeric_key_numeric() -> None:
    """An integer key with missing values is read by pandas as float64 (MIMIC's icustay_id): its surrogates
    stay float64 numbers, not 'SYN…' strings; a string key gets strings."""
    from ehrsynth.kinds import Column
    from ehrsynth.transforms.table import SURROGATE_OFFSET, surrogate_keys

    keys = surrogate_keys(Column("icustay_id", Kind.IDENTIFIER, dtype="float64"), 5)
    assert keys.dtype == np.float64 and keys.iloc[0] == SURROGATE_OFFSET + 1 and keys.is_unique
    small = surrogate_keys(Column("k", Kind.IDENTIFIER, dtype="float32"), 3)
    assert small.dtype == np.float32 and small.tolist() == [1.0, 2.0, 3.0]
    assert surrogate_keys(Column("mrn", Kind.IDENTIFIER, dtype="object"), 2).tolist() == [
        "SYN0000001",
        "SYN0000002",
    ]
