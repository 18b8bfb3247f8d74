"""SDV metadata interop (issue 14.9): to_sdv/from_sdv round trips and SDV-detected metadata."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from support import make_table

from ehrsynth.errors import SchemaError
from ehrsynth.schema import Kind, Schema


def _mixed() -> pd.DataFrame:
    df = make_table(120)
    df["admit"] = pd.date_range("2020-01-01", periods=len(df), freq="D")
    df["temp"] = np.round(np.linspace(35.5, 40.25, len(df)), 2)
    df["delta"] = np.arange(len(df)) % 40 - 20
    return df


def test_round_trip_through_sdv_metadata() -> None:
    df = _mixed()
    schema = Schema.infer(df)
    metadata = schema.to_sdv()
    assert metadata["primary_key"] == "mrn" and metadata["columns"]["mrn"] == {"sdtype": "id"}
    assert metadata["columns"]["sex"] == {"sdtype": "categorical"}
    assert metadata["columns"]["dx_250"] == {"sdtype": "boolean"}
    assert metadata["columns"]["visits"]["computer_representation"] == "Int64"
    assert metadata["columns"]["hba1c"] == {"sdtype": "numerical", "computer_representation": "Float"}
    assert Schema.from_sdv(metadata, data=df) == schema
    assert Schema.from_sdv(metadata, data=df).to_sdv() == metadata


def test_sdv_style_detected_metadata() -> None:
    # what SDV's detect_from_dataframe writes: 0/1 ints as categorical, PII sdtypes, a multi-table wrapper
    df = _mixed().assign(email=[f"p{i}@x.org" for i in range(120)])
    metadata = {
        "METADATA_SPEC_VERSION": "V1",
        "relationships": [],
        "tables": {
            "patients": {
                "primary_key": "mrn",
                "columns": {
                    "mrn": {"sdtype": "id", "regex_format": "MRN[0-9]{6}"},
                    "age": {"sdtype": "numerical", "computer_representation": "Int64"},
                    "sex": {"sdtype": "categorical"},
                    "race": {"sdtype": "categorical"},
                    "dx_250": {"sdtype": "categorical"},
                    "dx_401": {"sdtype": "categorical"},
                    "dx_428": {"sdtype": "categorical"},
                    "visits": {"sdtype": "numerical", "computer_representation": "Int64"},
                    "hba1c": {"sdtype": "numerical", "computer_representation": "Float"},
                    "admit": {"sdtype": "datetime"},
                    "temp": {"sdtype": "numerical", "computer_representation": "Float"},
                    "delta": {"sdtype": "numerical", "computer_representation": "Int64"},
                    "email": {"sdtype": "email", "pii": True},
                },
            }
        },
    }
    schema = Schema.from_sdv(metadata, data=df)
    kinds = {c.name: c.kind for c in schema}
    assert kinds["mrn"] is Kind.IDENTIFIER and kinds["email"] is Kind.IDENTIFIER
    assert kinds["dx_250"] is Kind.BINARY and kinds["sex"] is Kind.CATEGORICAL
    assert (
        kinds["age"] is Kind.COUNT and kinds["delta"] is Kind.CONTINUOUS and kinds["admit"] is Kind.DATETIME
    )
    assert schema["temp"].decimals == 2 and schema["race"].nullable


def test_refusals() -> None:
    with pytest.raises(SchemaError, match="free text"):
        Schema.from_sdv({"columns": {"note": {"sdtype": "text"}}})
    with pytest.raises(SchemaError, match="pass data="):
        Schema.from_sdv({"columns": {"age": {"sdtype": "numerical"}}})
    with pytest.raises(SchemaError, match="tables"):
        Schema.from_sdv({"tables": {"a": {}, "b": {}}})
    only_public = Schema.from_sdv({"columns": {"id": {"sdtype": "id"}, "flag": {"sdtype": "boolean"}}})
    assert [c.kind for c in only_public] == [Kind.IDENTIFIER, Kind.BINARY]


@pytest.mark.skipif(importlib.util.find_spec("sdv") is None, reason="sdv is not installed (the sdv extra)")
def test_against_sdv_detected_metadata_of_the_demo_table() -> None:
    from sdv.metadata import SingleTableMetadata

    from ehrsynth.datasets import load_demo

    real = load_demo()
    detected = SingleTableMetadata()
    detected.detect_from_dataframe(real)
    schema = Schema.from_sdv(detected.to_dict(), data=real)
    assert schema.names == list(real.columns)
    SingleTableMetadata.load_from_dict(schema.to_sdv()).validate()
    again = Schema.from_sdv(schema.to_sdv(), data=real)
    assert again == schema


def test_round_trip_on_the_demo_table() -> None:
    pytest.importorskip("lifelines")
    from ehrsynth.datasets import load_demo

    real = load_demo()
    schema = Schema.infer(real)
    assert Schema.from_sdv(schema.to_sdv(), data=real) == schema
