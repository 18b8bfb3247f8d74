"""A number without a declared range whose tails the 1-way threshold cut is named in a warning (stop 24)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ehrsynth.dp.discovery import discover_schema
from ehrsynth.errors import DataFidelityWarning
from ehrsynth.schema import Column, Kind, Schema


def tailed_table(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """``stay``: 90 % of rows at 10-30, the rest spread thinly over 1,000-1,000,000 (too few per cell, or per
    group of cells, to be released at the noise of the tests);
    ``age``: uniform 10-99, which fills its cells of the signed-log grid from edge to edge."""
    rng = np.random.default_rng(seed)
    tail = np.exp(rng.uniform(np.log(1000), np.log(1_000_000), n)).round()
    stay = np.where(rng.random(n) < 0.90, rng.integers(10, 31, n), tail).astype(np.int64)
    return pd.DataFrame({"stay": stay, "age": rng.integers(10, 100, n)})


def _release(df: pd.DataFrame, seed: int, schema: Schema | None = None) -> tuple[Schema, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        released, _ = discover_schema(
            df, noise_multiplier=30.0, rng=np.random.default_rng(seed), declared=schema
        )
    return released, [str(w.message) for w in caught if issubclass(w.category, DataFidelityWarning)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_number_whose_tail_was_cut_is_named_with_its_released_range(seed: int) -> None:
    df = tailed_table()
    released, messages = _release(df, seed)
    trimmed = [m for m in messages if "sparse parts of the range" in m]
    assert len(trimmed) == 1, messages
    assert "'stay'" in trimmed[0] and "'age'" not in trimmed[0]
    assert f"released {released['stay'].lower:.4g} to {released['stay'].upper:.4g}" in trimmed[0]
    assert released["stay"].upper < df["stay"].max() / 4  # the cut the warning is about (real max ~1,000,000)
    assert "'lower' and 'upper'" in trimmed[0]  # the remedy is named


def test_a_declared_range_gets_its_tail_back_and_no_warning() -> None:
    df = tailed_table()
    declared = Schema([Column("stay", Kind.COUNT, lower=0, upper=1_000_000), Column("age", Kind.COUNT)])
    released, messages = _release(df, 0, declared)
    assert not [m for m in messages if "sparse parts of the range" in m], messages
    assert released["stay"].upper >= 1000


def test_a_key_named_number_that_becomes_an_identifier_is_not_named() -> None:
    """ACTG 175's ``pidnum`` was named in the warning, though it gets fresh surrogate keys (``make demo``)."""
    df = tailed_table()
    rng = np.random.default_rng(3)
    tail = np.unique(np.exp(rng.uniform(np.log(1e6), np.log(1e9), 2 * len(df))).round())
    keys = np.concatenate([10_000 + np.arange(len(df)), rng.permutation(tail)[: len(df)]])
    # unique keys, 8 % of them spread thinly over 1e6-1e9 (the ACTG demo's pidnum was named)
    df["pidnum"] = np.where(rng.random(len(df)) < 0.92, keys[: len(df)], keys[len(df) :]).astype(np.int64)
    released, messages = _release(df, 0)
    trimmed = [m for m in messages if "sparse parts of the range" in m]
    assert released["pidnum"].kind is Kind.IDENTIFIER
    assert len(trimmed) == 1 and "'stay'" in trimmed[0] and "pidnum" not in trimmed[0]
