"""Identifier columns with missing values keep them: a modelled 0/1 flag per key (transforms.key_flags)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehrsynth.schema import Column, Kind, Schema
from ehrsynth.transforms.key_flags import add_flags, apply_flags, dp_flagged, exact_flagged, flag_name
from ehrsynth.transforms.table import renumber_identifiers


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_id": [1, 2, 3, 4],
            "icustay_id": [10.0, np.nan, 12.0, np.nan],
            "hadm_id": [5.0, 6.0, 7.0, 8.0],
            "note_key": ["a", None, "c", "d"],
            "age": [30.0, np.nan, 50.0, 60.0],
        }
    )


def test_under_dp_only_float_keys_named_as_never_modelled_are_flagged_by_dtype_not_values() -> None:
    df = _table()
    assert dp_flagged(df) == ["icustay_id", "hadm_id"]  # hadm_id has no missing value: dtype alone decides
    schema = Schema(
        [
            Column("row_id", Kind.IDENTIFIER),
            Column("icustay_id", Kind.IDENTIFIER),
            Column("hadm_id", Kind.IDENTIFIER),
            Column("note_key", Kind.IDENTIFIER),
            Column("age", Kind.CONTINUOUS),
        ]
    )
    assert exact_flagged(df, schema) == ["icustay_id", "note_key"]


def test_flags_sit_after_their_key_and_sampling_blanks_the_keys_and_drops_them() -> None:
    df = add_flags(_table(), ["icustay_id", "note_key"])
    assert list(df.columns) == [
        "row_id", "icustay_id", flag_name("icustay_id"), "hadm_id", "note_key", flag_name("note_key"), "age",
    ]  # fmt: skip
    assert df[flag_name("icustay_id")].tolist() == [False, True, False, True]
    schema = Schema(
        [
            Column("icustay_id", Kind.IDENTIFIER, dtype="float64"),
            Column(flag_name("icustay_id"), Kind.BINARY),
            Column("note_key", Kind.IDENTIFIER, dtype="object"),
            Column(flag_name("note_key"), Kind.BINARY),
        ]
    )
    sampled = pd.DataFrame(
        {
            "icustay_id": [1.0, 2.0, 3.0],
            flag_name("icustay_id"): [True, False, False],
            "note_key": ["SYN1", "SYN2", "SYN3"],
            flag_name("note_key"): [False, False, True],
        }
    )
    out = apply_flags(sampled, schema)
    assert list(out.columns) == ["icustay_id", "note_key"]
    assert out["icustay_id"].isna().tolist() == [True, False, False] and out["icustay_id"].dtype == "float64"
    assert out["note_key"].tolist() == ["SYN1", "SYN2", None]
    renumbered = renumber_identifiers(out, schema)
    assert renumbered["icustay_id"].isna().tolist() == [True, False, False]
    assert renumbered["note_key"].isna().tolist() == [False, False, True]
