from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrsynth.errors import FreeTextError, InvalidDataError, SchemaError
from ehrsynth.schema import Column, Kind, Schema


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "mrn": [f"M{i:05d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "bmi": rng.normal(27, 4, n).round(1),
            "sex": rng.choice(["F", "M"], n),
            "dx_250": rng.integers(0, 2, n),
            "visits": rng.integers(0, 9, n),
            "admission_type_id": rng.integers(1, 4, n),
            "admit": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
            "a1c": rng.choice(["Norm", ">7", None], n),
        }
    )


def test_infer_rules() -> None:
    schema = Schema.infer(_frame())
    kinds = {c.name: c.kind for c in schema}
    assert kinds == {
        "mrn": Kind.IDENTIFIER,
        "age": Kind.COUNT,
        "bmi": Kind.CONTINUOUS,
        "sex": Kind.CATEGORICAL,
        "dx_250": Kind.BINARY,
        "visits": Kind.COUNT,
        "admission_type_id": Kind.CATEGORICAL,
        "admit": Kind.DATETIME,
        "a1c": Kind.CATEGORICAL,
    }
    assert schema["a1c"].nullable and not schema["sex"].nullable
    assert schema["bmi"].decimals == 1
    assert schema["admission_type_id"].categories == [1, 2, 3]


def test_json_round_trip(tmp_path) -> None:
    schema = Schema.infer(_frame())
    path = tmp_path / "schema.json"
    schema.save(path)
    assert Schema.load(path) == schema
    assert Schema.from_json(schema.to_json()).to_dict() == schema.to_dict()


def test_free_text_refused_names_column() -> None:
    df = _frame()
    df["note"] = [
        f"patient {i} reports intermittent chest pain after exercise, day {i}" for i in range(len(df))
    ]
    with pytest.raises(FreeTextError, match="'note'") as info:
        Schema.infer(df)
    assert info.value.column == "note"


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda df: df.iloc[0:0], "empty"),
        (lambda df: df.assign(bad=np.nan), "'bad' has only missing"),
        (
            lambda df: df.assign(bmi=np.where(np.arange(len(df)) == 3, np.inf, df["bmi"])),
            "'bmi' contains infinite",
        ),
        (lambda df: df.assign(mixed=[1, "a"] * (len(df) // 2)), "'mixed' mixes strings"),
        (lambda df: df.rename(columns={"age": 5}), "non-string column names"),
        (lambda df: pd.concat([df, df[["sex"]]], axis=1), "duplicate column names"),
    ],
)
def test_bad_frames(mutate, match) -> None:
    with pytest.raises(InvalidDataError, match=match):
        Schema.infer(mutate(_frame()))


def test_too_many_categories() -> None:
    df = pd.DataFrame({"code": [f"C{i % 1500}" for i in range(3000)]})
    with pytest.raises(InvalidDataError, match="'code' has 1500 distinct"):
        Schema.infer(df)


def test_validate_mismatch_lists_columns() -> None:
    schema = Schema.infer(_frame())
    with pytest.raises(SchemaError, match=r"not the data: \['bmi'\]"):
        schema.validate(_frame().drop(columns=["bmi"]))
    df = _frame()
    df.loc[0, "sex"] = "X"
    with pytest.raises(SchemaError, match="'sex' has values not in the schema"):
        schema.validate(df)


def test_negative_count_rejected() -> None:
    schema = Schema.infer(_frame())
    df = _frame()
    df.loc[0, "visits"] = -2
    with pytest.raises(InvalidDataError, match="count column 'visits' has negative"):
        schema.validate(df)


def test_bad_schema_json() -> None:
    with pytest.raises(SchemaError, match="unknown kind"):
        Column.from_dict({"name": "x", "kind": "text"})
    with pytest.raises(SchemaError, match="needs both 'lower' and 'upper'"):
        Column.from_dict({"name": "x", "kind": "count", "lower": 0})
    kinds_only = Column.from_dict({"name": "x", "kind": "count"})  # bounds left to discovery
    assert not kinds_only.has_domain
    with pytest.raises(SchemaError, match="not valid JSON"):
        Schema.from_json("{")


def test_text_timestamps_are_dates_not_identifiers() -> None:
    """Nearly unique strings are identifiers, except when every one is a date: timestamps (MIMIC's
    ADMITTIME '2164-10-23 21:09:00') must come back as dates, not as surrogate keys."""
    n = 200
    stamps = (pd.Timestamp("2164-10-23 21:09:00") + pd.to_timedelta(np.arange(n) * 97, unit="min")).astype(
        str
    )
    df = pd.DataFrame({"admittime": stamps, "note_ref": [f"N{i:05d}" for i in range(n)]})
    df["visit_id"] = stamps  # a key by its name stays a key
    kinds = {c.name: c.kind for c in Schema.infer(df).columns}
    assert kinds["admittime"] is Kind.DATETIME
    assert kinds["note_ref"] is Kind.IDENTIFIER and kinds["visit_id"] is Kind.IDENTIFIER
