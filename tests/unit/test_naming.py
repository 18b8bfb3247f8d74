"""One set of naming rules: the synthesizer, DP discovery, the privacy audit and the evaluation agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehrsynth import naming
from ehrsynth.dp.discovery import plan_discovery
from ehrsynth.evaluation.columns import infer_kinds
from ehrsynth.inference import infer_column
from ehrsynth.privacy.columns import infer_typing
from ehrsynth.schema import Kind

IDENTIFIERS = [
    "mrn",
    "MRN",
    "patient_mrn",
    "medical_record_number",
    "ssn",
    "ssn_number",
    "SSN",
    "social_security_number",
    "email",
    "e_mail",
    "email_address",
    "phone",
    "phone_number",
    "home_phone",
    "telephone",
    "fax",
    "name",
    "first_name",
    "FirstName",
    "last_name",
    "surname",
    "patient_name",
    "Patient Name",
    "address",
    "street",
    "zip",
    "zip_code",
    "postcode",
    "passport_number",
    "passport_no",
    "drivers_license_number",
    "licence_no",
    "uuid",
    "medicaid_number",
]
NOT_IDENTIFIERS = [
    "drug_name",
    "hospital_name",
    "medicaid",
    "age",
    "race",
    "number",
    "admission_type_id",
    "time_in_hospital",
]
KEYS = ["id", "patient_id", "PatientId", "patientid", "subject_id", "patient_nbr", "record_no", "visit_num"]
NOT_KEYS = ["lipid", "uric_acid", "fluid", "thyroid", "steroid", "num_lab_procedures"]


@pytest.mark.parametrize("name", IDENTIFIERS)
def test_direct_identifier_names(name: str) -> None:
    assert naming.is_identifier_name(name)
    assert naming.IDENTIFIER_NAMES.match(name)


@pytest.mark.parametrize("name", NOT_IDENTIFIERS + KEYS)
def test_names_that_are_not_direct_identifiers(name: str) -> None:
    assert not naming.is_identifier_name(name)


@pytest.mark.parametrize("name", KEYS)
def test_key_names(name: str) -> None:
    assert naming.is_key_name(name)


@pytest.mark.parametrize("name", NOT_KEYS)
def test_lab_names_ending_in_id_are_not_keys(name: str) -> None:
    assert not naming.is_key_name(name)


def _table(names: list[str], n: int = 60) -> pd.DataFrame:
    """Low-cardinality values, so only the name can make a column an identifier."""
    rng = np.random.default_rng(0)
    data = {name: rng.choice(["a", "b", "c"], size=n) for name in names}
    data["dx_1"] = rng.integers(0, 2, size=n)
    data["bmi"] = rng.normal(27.0, 4.0, size=n).round(1)
    return pd.DataFrame(data)


def _synthesizer_identifiers(df: pd.DataFrame) -> set[str]:
    return {name for name in df.columns if infer_column(name, df[name]).kind is Kind.IDENTIFIER}


def test_synthesizer_discovery_audit_and_evaluation_agree_on_identifier_names() -> None:
    df = _table(IDENTIFIERS + NOT_IDENTIFIERS)
    expected = set(IDENTIFIERS)
    assert _synthesizer_identifiers(df) == expected
    assert set(plan_discovery(df).identifiers) == expected
    assert set(infer_typing([df]).dropped) == expected
    assert set(infer_kinds(df).excluded) == expected


def test_key_columns_with_distinct_values_are_identifiers_everywhere() -> None:
    n = 60
    df = _table([], n).assign(
        patient_nbr=np.arange(n) * 7 + 3,
        visit_num=np.arange(n) % 40,
        lipid=np.linspace(1.0, 9.0, n),
    )
    expected = {"patient_nbr", "visit_num"}
    assert _synthesizer_identifiers(df) == expected
    assert set(infer_typing([df]).dropped) == expected
    assert set(infer_kinds(df).excluded) == expected


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ ", min_size=1, max_size=24))
def test_functions_and_patterns_agree(name: str) -> None:
    assert naming.is_identifier_name(name) == bool(naming.IDENTIFIER_NAMES.match(name))
    assert naming.is_key_name(name) == bool(naming.KEY_NAMES.search(name))
    assert naming.is_category_name(name) == bool(naming.CATEGORY_NAMES.search(name))


def test_dates_by_value() -> None:
    assert naming.looks_like_date("2196-04-09") and naming.looks_like_date("4/9/2196 10:30")
    assert not naming.looks_like_date("April 9")


def test_patient_and_visit_keys_are_identifiers_everywhere_even_when_they_repeat() -> None:
    """MIMIC-III PRESCRIPTIONS: 94 subject_id values over 10,398 rows. A repeated key was modelled as a count
    (without DP) and so its synthetic values were real patient ids."""
    n = 60
    df = _table([], n).assign(
        subject_id=np.arange(n) % 6 + 10_006,
        hadm_id=np.arange(n) % 9 + 100_375,
        admission_type_id=np.arange(n) % 3 + 1,  # a code: stays a feature
    )
    expected = {"subject_id", "hadm_id"}
    assert _synthesizer_identifiers(df) == expected
    assert expected <= set(plan_discovery(df).identifiers)
    assert "admission_type_id" not in plan_discovery(df).identifiers
    assert set(infer_typing([df]).dropped) == expected
    assert set(infer_kinds(df).excluded) == expected
