"""The unit of privacy: a table whose patient or visit key repeats is refused under DP unless rows are accepted
as the unit (ehrsynth.dp.unit), and the record says so."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.dp.unit import check_privacy_unit, check_unit_name, repeated_keys
from ehrsynth.errors import InvalidDataError, InvalidParameterError, PrivacyBudgetError
from ehrsynth.naming import is_person_key_name


@pytest.mark.parametrize(
    "name",
    [
        "patient_nbr",
        "subject_id",
        "PatientId",
        "patientid",
        "patient",
        "person_id",
        "member_id",
        "mrn",
        "pid",
        "pidnum",
        "encounter_id",
        "hadm_id",
        "icustay_id",
        "visit_id",
        "Patient ID",
        "medical_record_number",
    ],
)
def test_person_and_visit_keys_are_named(name: str) -> None:
    assert is_person_key_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "admission_type_id",
        "admission_source_id",
        "drug_id",
        "ward_id",
        "row_id",
        "id",
        "rapid",
        "pidx",
        "patient_name",
        "member",
        "visits",
        "stay",
        "visit_num",  # a visit's order (1, 2, 3): a feature, not a key
        "encounter_number",
        "admission_no",
    ],
)
def test_codes_and_other_keys_are_not(name: str) -> None:
    assert not is_person_key_name(name)


def test_repeated_keys_counts_rows_values_and_the_largest_group() -> None:
    df = pd.DataFrame(
        {
            "subject_id": [1, 1, 1, 2, 3, None],
            "hadm_id": [10, 11, 12, 13, 14, 15],  # distinct: one row per admission
            "admission_type_id": [1, 1, 2, 2, 1, 1],  # a code, not a key
        }
    )
    (found,) = repeated_keys(df)
    assert (found.column, found.rows, found.distinct, found.max_rows) == ("subject_id", 5, 3, 3)


@given(st.lists(st.integers(0, 30), min_size=1, max_size=60))
def test_a_key_is_flagged_exactly_when_a_value_repeats(values: list[int]) -> None:
    flagged = bool(repeated_keys(pd.DataFrame({"patient_nbr": values})))
    assert flagged == (len(set(values)) < len(values))


def test_patient_unit_refuses_with_the_column_and_the_fixes() -> None:
    df = pd.DataFrame({"patient_nbr": [7, 7, 8], "age": [50, 51, 60]})
    with pytest.raises(
        InvalidDataError, match=r"'patient_nbr'.*3 rows share 2 values.*privacy_unit='row'"
    ) as err:
        check_privacy_unit(df, "patient")
    assert err.value.column == "patient_nbr"


def test_row_unit_passes_and_returns_a_note_without_counts() -> None:
    df = pd.DataFrame({"patient_nbr": [7, 7, 8], "age": [50, 51, 60]})
    (note,) = check_privacy_unit(df, "row")
    assert "'patient_nbr'" in note and "one ROW" in note and "3" not in note  # no data-derived figure


def test_a_table_of_one_row_per_patient_passes_either_way() -> None:
    df = pd.DataFrame({"patient_nbr": [7, 8, 9], "age": [50, 51, 60]})
    assert check_privacy_unit(df, "patient") == [] and check_privacy_unit(df, "row") == []


@pytest.mark.parametrize("bad", ["encounter", "", None, 1])
def test_unknown_units_are_refused(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="privacy_unit must be one of"):
        check_unit_name(bad)


def test_the_record_round_trips_the_unit_and_refuses_others() -> None:
    rec = PrivacyRecord.composed(1.0, 1e-5, "prv", [])
    rec.privacy_unit = "row"
    d = rec.to_dict()
    assert d["privacy_unit"] == "row"
    assert PrivacyRecord.from_dict(d).privacy_unit == "row"
    assert "privacy_unit" not in PrivacyRecord.composed(1.0, 1e-5, "prv", []).to_dict()
    with pytest.raises(PrivacyBudgetError, match="privacy_unit must be 'row' or null"):
        PrivacyRecord.from_dict({**d, "privacy_unit": "patient"})
