"""DP schema discovery: released ranges can exclude real values, which must then be clipped, not rejected."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehrsynth.dp.discovery import clamp_to_released_ranges, discover_schema
from ehrsynth.schema import Column, Kind, Schema


def test_integer_categories_and_binary_are_clipped_to_the_released_range() -> None:
    df = pd.DataFrame({"arms": [0, 1, 2, 3, 3], "flag": [0, 1, 2, 1, 0], "w": [1.5, 2.0, 3.0, 4.0, 5.0]})
    schema = Schema(
        [
            Column("arms", Kind.CATEGORICAL, categories=[1, 2, 3]),
            Column("flag", Kind.BINARY),
            Column("w", Kind.CONTINUOUS, lower=0.0, upper=10.0),
        ]
    )
    out = clamp_to_released_ranges(df, schema)
    assert out["arms"].tolist() == [1, 1, 2, 3, 3]
    assert out["flag"].tolist() == [0, 1, 1, 1, 0]
    assert df["arms"].tolist() == [0, 1, 2, 3, 3]  # the caller's frame is untouched
    schema.validate(out, strict=True)


def test_nothing_to_clip_returns_the_same_frame() -> None:
    df = pd.DataFrame({"arms": [1, 2, 3]})
    schema = Schema([Column("arms", Kind.CATEGORICAL, categories=[1, 2, 3])])
    assert clamp_to_released_ranges(df, schema) is df


def test_non_contiguous_integer_categories_are_left_alone() -> None:
    df = pd.DataFrame({"code": [1, 5, 9]})
    schema = Schema([Column("code", Kind.CATEGORICAL, categories=[1, 5])])
    assert clamp_to_released_ranges(df, schema)["code"].tolist() == [1, 5, 9]


def test_discovered_schema_encodes_every_row_after_clipping() -> None:
    rng = np.random.default_rng(0)
    n = 400
    # a rare value at the bottom of a small integer range: heavy noise drops it from the released range
    arms = np.where(rng.random(n) < 0.01, 0, rng.integers(1, 4, n))
    df = pd.DataFrame({"arms": arms, "age": rng.integers(20, 80, n)})
    schema, _ = discover_schema(df, noise_multiplier=5.0, rng=np.random.default_rng(1))
    from ehrsynth.transforms import TableTransformer

    encoded = TableTransformer(schema).encode(clamp_to_released_ranges(df, schema))
    assert encoded.shape[0] == n
    assert np.isfinite(encoded).all()
