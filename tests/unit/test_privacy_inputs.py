"""ehrsynth.privacy inputs and column typing: every bad input gives a clear error naming the problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.errors import InvalidDataError, InvalidParameterError, SchemaError, UnsupportedFileError
from ehrsynth.privacy import audit
from ehrsynth.privacy.columns import infer_typing, resolve_names, typing_from_schema
from ehrsynth.privacy.inputs import MIN_ROWS, frame_sha256


def _table(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "sex": rng.choice(["F", "M"], n),
            "dx_a": rng.integers(0, 2, n),
            "dx_b": (rng.random(n) < 0.2).astype(int),
        }
    )


def test_different_column_sets_list_the_differences() -> None:
    tr, ho, sy = _table(), _table(seed=1), _table(seed=2).drop(columns=["dx_b"]).assign(extra=1)
    with pytest.raises(InvalidDataError) as err:
        audit(tr, ho, sy)
    msg = str(err.value)
    assert "missing from synthetic: 'dx_b'" in msg and "only in synthetic: 'extra'" in msg


def test_disagreeing_dtypes_are_refused() -> None:
    sy = _table(seed=2)
    sy["age"] = sy["age"].astype(str) + " years"
    with pytest.raises(InvalidDataError, match="column 'age' has disagreeing dtypes") as err:
        audit(_table(), _table(seed=1), sy)
    assert err.value.column == "age"


def test_empty_and_tiny_tables(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InvalidDataError, match="empty"):
        audit(empty, _table(), _table())
    header_only = tmp_path / "header.csv"
    header_only.write_text("age,sex,dx_a,dx_b\n")
    with pytest.raises(InvalidDataError, match="empty"):
        audit(_table(), header_only, _table())
    with pytest.raises(InvalidDataError, match=f"at least {MIN_ROWS} rows"):
        audit(_table(), _table(), _table(n=MIN_ROWS - 1))


def test_unsupported_file_type_and_missing_file(tmp_path: Path) -> None:
    odd = tmp_path / "train.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(UnsupportedFileError, match="unsupported file type"):
        audit(odd, _table(), _table())
    with pytest.raises(InvalidDataError, match="does not exist"):
        audit(tmp_path / "nope.csv", _table(), _table())
    with pytest.raises(InvalidDataError, match="DataFrame or a path"):
        audit(np.zeros((80, 4)), _table(), _table())


def test_unknown_quasi_identifier_and_sensitive_names() -> None:
    tr, ho, sy = _table(), _table(seed=1), _table(seed=2)
    with pytest.raises(InvalidParameterError, match=r"unknown quasi-identifiers \['zip'\]") as err:
        audit(tr, ho, sy, quasi_identifiers="age,zip")
    assert "available columns" in str(err.value)
    with pytest.raises(InvalidParameterError, match=r"unknown sensitive attributes \['hiv'\]"):
        audit(tr, ho, sy, sensitive=["hiv"])
    with pytest.raises(InvalidParameterError, match="both as quasi-identifiers and as sensitive"):
        audit(tr, ho, sy, quasi_identifiers=["age"], sensitive=["age"])


def test_inferred_typing_rules() -> None:
    n = 60
    df = pd.DataFrame(
        {
            "mrn": np.arange(n) + 1000,
            "encounter_id": np.arange(n) * 7,
            "admission_type_id": np.arange(n) % 3,
            "code_1": np.arange(n) % 2,
            "flag_missing": [0.0, 1.0, np.nan] * 20,
            "lab": np.linspace(0, 1, n),
            "race": ["a", "b", "c"] * 20,
            "ok": [True, False] * 30,
        }
    )
    typing = infer_typing([df.iloc[:30], df.iloc[30:]])
    assert typing.kinds == {
        "admission_type_id": "numeric",
        "code_1": "binary",
        "flag_missing": "categorical",
        "lab": "numeric",
        "race": "categorical",
        "ok": "binary",
    }
    assert set(typing.dropped) == {"mrn", "encounter_id"}


def test_schema_typing_from_dict_and_file(tmp_path: Path) -> None:
    schema = {
        "version": 1,
        "columns": [
            {"name": "age", "kind": "continuous", "lower": 18, "upper": 90},
            {"name": "sex", "kind": "categorical", "categories": ["F", "M"]},
            {"name": "dx_a", "kind": "binary"},
            {"name": "dx_b", "kind": "identifier"},
        ],
    }
    typing = typing_from_schema(schema, ["age", "sex", "dx_a", "dx_b"])
    assert typing.kinds == {"age": "numeric", "sex": "categorical", "dx_a": "binary"}
    assert "dx_b" in typing.dropped and typing.source == "schema"
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    assert typing_from_schema(path, ["age", "sex", "dx_a", "dx_b"]).kinds == typing.kinds
    with pytest.raises(SchemaError, match="in the tables but not the schema"):
        typing_from_schema(schema, ["age", "sex", "dx_a", "dx_b", "new"])
    bad = {"columns": [{"name": "age", "kind": "wavelet"}]}
    with pytest.raises(SchemaError, match="unknown kind 'wavelet'"):
        typing_from_schema(bad, ["age"])
    with pytest.raises(SchemaError, match="does not exist"):
        typing_from_schema(tmp_path / "missing.json", ["age"])


def test_resolve_names_accepts_strings_and_refuses_identifiers() -> None:
    typing = infer_typing([_table().assign(mrn=np.arange(80))])
    assert resolve_names("age, sex", typing, "quasi-identifiers") == ["age", "sex"]
    assert resolve_names(None, typing, "x") is None
    with pytest.raises(InvalidParameterError, match="identifier columns"):
        resolve_names(["mrn"], typing, "sensitive attributes")


def test_fingerprint_depends_on_values_and_dtypes() -> None:
    a = _table()
    assert frame_sha256(a) == frame_sha256(a.copy())
    b = a.copy()
    b.loc[0, "sex"] = "X"
    assert frame_sha256(a) != frame_sha256(b)
    assert frame_sha256(a) != frame_sha256(a.astype({"dx_a": "int32"}))


def _dated(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = _table(120, seed)
    df["admitted"] = (
        pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, 120), unit="D")
    ).strftime("%Y-%m-%d")
    return df


def test_typed_synthetic_output_and_dates_as_text() -> None:
    tr, ho, sy = _dated(1), _dated(2), _dated(3)
    typed = sy.astype({"sex": "category", "dx_a": "category", "age": "Int64"})  # e.g. a typed reader's output
    report = audit(tr, ho, typed, n_bootstrap=100)
    assert report.to_dict()["columns"]["kinds"]["dx_a"] == "binary"
    schema = {
        "columns": [
            {"name": "age", "kind": "count"},
            {"name": "sex", "kind": "categorical"},
            {"name": "dx_a", "kind": "binary"},
            {"name": "dx_b", "kind": "binary"},
            {"name": "admitted", "kind": "datetime"},
        ]
    }
    report = audit(tr, ho, sy, schema=schema, n_bootstrap=100)
    assert report.to_dict()["columns"]["kinds"]["admitted"] == "numeric"
    assert report.verdict == "low"


def test_schema_kinds_are_checked_against_the_data() -> None:
    tr, ho, sy = _table(), _table(seed=1), _table(seed=2)
    schema = {
        "columns": [
            {"name": "age", "kind": "binary"},
            {"name": "sex", "kind": "categorical"},
            {"name": "dx_a", "kind": "binary"},
            {"name": "dx_b", "kind": "binary"},
        ]
    }
    with pytest.raises(SchemaError, match="column 'age' is binary but holds the value"):
        audit(tr, ho, sy, schema=schema)
    schema["columns"][0] = {"name": "age", "kind": "count"}
    schema["columns"][1] = {"name": "sex", "kind": "continuous"}
    with pytest.raises(SchemaError, match=r"column 'sex' is numeric but holds '[FM]'"):
        audit(tr, ho, sy, schema=schema)
