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
    assert naming.is_code_name(name) == bool(naming.CODE_NAMES.search(name))


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


@pytest.mark.parametrize(
    ("name", "date"),
    [
        ("dob", True), ("dod", True), ("dod_hosp", True), ("DOD_SSN", True), ("admittime", True),
        ("chartdate", True), ("created_at", True), ("method", False), ("period", False), ("dodge", False),
    ],
)  # fmt: skip
def test_date_names_include_date_of_death(name: str, date: bool) -> None:
    """Under DP a string column's kind comes from its name; MIMIC's ``dod`` columns came back as 'other'."""
    assert bool(naming.DATE_NAMES.search(name)) is date


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("cpt_cd", True), ("cpt_number", True), ("ndc", True), ("drg_code", True), ("icd9_code", True),
        ("gsn", True), ("loinc", True), ("num_codes", False), ("code_count", False), ("n_codes", False),
        ("cd4", False), ("cd40", False), ("pcd", False), ("age", False), ("icd9_4019", False), ("dx_250", False),
        ("code_status", False), ("postcode_area", False),
    ],
)  # fmt: skip
def test_code_names(name: str, code: bool) -> None:
    assert naming.is_code_name(name) is code


def test_numbers_named_as_codes_are_categories_with_and_without_dp() -> None:
    """CPT/NDC codes stored as numbers are labels: the synthesizer and DP discovery both model them as the
    values they hold (before, DP released them as numbers and invented codes between the real ones), while a
    count of codes stays a count."""
    from ehrsynth.dp.discovery import discover_schema

    rng = np.random.default_rng(0)
    n = 3000
    cpt = np.array([99232, 99231, 99233, 94003, 99291])
    df = pd.DataFrame(
        {
            "cpt_cd": rng.choice(cpt, n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
            "num_codes": rng.integers(0, 30, n),
            "ndc": np.where(rng.random(n) < 0.1, np.nan, rng.choice([338004903.0, 63323026201.0], n)),
        }
    )
    assert plan_discovery(df).categorical == ["cpt_cd", "ndc"]
    for col, kind in [("cpt_cd", Kind.CATEGORICAL), ("num_codes", Kind.COUNT), ("ndc", Kind.CATEGORICAL)]:
        assert infer_column(col, df[col]).kind is kind
    schema, _ = discover_schema(df, noise_multiplier=2.0, rng=np.random.default_rng(1))
    assert schema["cpt_cd"].kind is Kind.CATEGORICAL and sorted(schema["cpt_cd"].categories or []) == sorted(
        cpt
    )
    assert schema["ndc"].kind is Kind.CATEGORICAL and len(schema["ndc"].categories or []) == 2
    assert schema["ndc"].nullable and schema["num_codes"].kind is Kind.COUNT


@pytest.mark.parametrize(
    ("earlier", "later", "expected"),
    [
        ("intime", "outtime", True),
        ("admittime", "dischtime", True),
        ("edregtime", "edouttime", True),
        ("Start_Date", "end_date", True),
        ("startdate", "stopdate", True),
        ("admission_date", "discharge_date", True),
        ("date_in", "date_out", True),
        ("outtime", "intime", False),  # the other way round
        ("admittime", "deathtime", False),
        ("dob", "dod", False),
        ("intime", "intime", False),
    ],
)
def test_named_date_order(earlier: str, later: str, expected: bool) -> None:
    assert naming.is_named_date_order(earlier, later) is expected
