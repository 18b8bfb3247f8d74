"""ehrsynth.codes: ICD-9 grouping and the long ⇄ matrix round trip."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.codes import group_icd9, group_icd9_series, to_long, to_matrix
from ehrsynth.errors import DataFidelityWarning, InvalidDataError, InvalidParameterError


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("0389", "038"),
        ("03819", "038"),
        ("250.01", "250"),
        ("25000", "250"),
        ("99591", "995"),
        ("V5867", "V58"),
        ("V090", "V09"),
        ("V27", "V27"),
        ("V58.67", "V58"),
        ("E8889", "E888"),
        ("E888.9", "E888"),
        ("E909", "E909"),
        ("8", "008"),
        ("38", "038"),
        ("38.9", "038"),
        ("  v09.0 ", "V09"),
        ("e8791", "E879"),
    ],
)
def test_group_icd9_known_codes(code: str, group: str) -> None:
    assert group_icd9(code) == group


@pytest.mark.parametrize("code", ["", "I10", "E11.9", "E88", "V5", "250011", "2500.1", "abc", "250.123", "V"])
def test_group_icd9_rejects_non_icd9(code: str) -> None:
    with pytest.raises(InvalidDataError, match="not an ICD-9-CM"):
        group_icd9(code)


def test_group_icd9_rejects_numbers() -> None:
    with pytest.raises(InvalidDataError, match="dtype=str"):
        group_icd9(389)  # type: ignore[arg-type]


icd9_codes = st.one_of(
    st.from_regex(r"\A\d{1,5}\Z"),
    st.from_regex(r"\A\d{1,3}\.\d{1,2}\Z"),
    st.from_regex(r"\AV\d{2,4}\Z"),
    st.from_regex(r"\AV\d{2}\.\d{1,2}\Z"),
    st.from_regex(r"\AE\d{3,4}\Z"),
    st.from_regex(r"\AE\d{3}\.\d\Z"),
)


@given(icd9_codes)
def test_group_icd9_is_idempotent_and_well_formed(code: str) -> None:
    group = group_icd9(code)
    assert group_icd9(group) == group
    assert len(group) == (4 if group.startswith("E") else 3)
    if group[0] in "EV":
        assert code.startswith(group[0])
    else:  # the category is the code's leading digits, zero-padded only when shorter than 3
        head = code.split(".")[0]
        assert group == (head[:3] if len(head) >= 3 else head.zfill(3))


def test_group_icd9_series_keeps_index_name_and_missing() -> None:
    s = pd.Series(["0389", None, "V5867", np.nan, "0389", " "], index=range(10, 16), name="icd9_code")
    out = group_icd9_series(s)
    assert out.name == "icd9_code"
    assert out.index.tolist() == list(range(10, 16))
    assert out.tolist()[0] == "038" and out.tolist()[2] == "V58" and out.tolist()[4] == "038"
    assert out.isna().tolist() == [False, True, False, True, False, True]


def test_group_icd9_series_error_names_column_and_values() -> None:
    with pytest.raises(InvalidDataError, match=r"'dx'.*'I10'") as err:
        group_icd9_series(pd.Series(["250", "I10"], name="dx"))
    assert err.value.column == "dx"


def _long(rows: list[tuple[object, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["pid", "code"])


def test_to_matrix_binary_layout() -> None:
    df = _long([(2, "b"), (1, "a"), (2, "a"), (2, "a"), (3, " c ")])
    m = to_matrix(df, patient="pid", code="code")
    assert m.index.name == "pid"
    assert m.index.tolist() == [1, 2, 3]
    assert m.columns.tolist() == ["a", "b", "c"]
    assert (m.dtypes == np.uint8).all()
    assert m.to_numpy().tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


def test_to_matrix_counts_and_prefix() -> None:
    df = _long([(2, "b"), (1, "a"), (2, "a"), (2, "a")])
    m = to_matrix(df, patient="pid", code="code", counts=True, prefix="dx_")
    assert m.columns.tolist() == ["dx_a", "dx_b"]
    assert (m.dtypes == np.int32).all()
    assert m.loc[2, "dx_a"] == 2 and m.loc[2, "dx_b"] == 1 and m.loc[1, "dx_b"] == 0


def test_to_matrix_drops_missing_codes_and_ids(caplog: pytest.LogCaptureFixture) -> None:
    df = _long([(1, "a"), (1, None), (2, np.nan), (None, "b"), (3, "   ")])
    with (
        caplog.at_level(logging.INFO, logger="ehrsynth.codes"),
        pytest.warns(DataFidelityWarning, match="without a patient id") as record,
    ):
        m = to_matrix(df, patient="pid", code="code")
    assert m.index.tolist() == [1.0]  # patients 2 and 3 had no usable code; the id-less row is dropped
    assert m.columns.tolist() == ["a"]
    assert "rows with a missing code" in caplog.text
    assert not any(ch.isdigit() for w in record for ch in str(w.message))  # counts are private under DP


def test_to_matrix_vocabulary_and_patients(caplog: pytest.LogCaptureFixture) -> None:
    df = _long([(1, "a"), (1, "zz"), (2, "b"), (9, "a")])
    with caplog.at_level(logging.INFO, logger="ehrsynth.codes"):
        m = to_matrix(df, patient="pid", code="code", vocabulary=["b", "a", "new"], patients=[2, 1, 5])
    assert m.columns.tolist() == ["b", "a", "new"]
    assert m.index.tolist() == [2, 1, 5]
    assert m.to_numpy().tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert "1 rows with 1 codes not in the vocabulary (e.g. zz)" in caplog.text
    assert "1 rows of patients not in `patients`" in caplog.text


def test_to_matrix_grouping_merges_codes() -> None:
    df = _long([(1, "4280"), (1, "428.1"), (1, "E8791"), (2, "0389")])
    m = to_matrix(df, patient="pid", code="code", counts=True, grouping="icd9_3digit")
    assert m.columns.tolist() == ["038", "428", "E879"]
    assert m.to_numpy()[0].tolist() == [0, 2, 1]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"patient": "subject", "code": "code"}, InvalidDataError, "patient column 'subject' not found"),
        ({"patient": "pid", "code": "icd"}, InvalidDataError, "code column 'icd' not found"),
        ({"patient": "pid", "code": "code", "grouping": "icd10"}, InvalidParameterError, "unknown grouping"),
        ({"patient": "pid", "code": "pid"}, InvalidParameterError, "same column"),
        ({"patient": "pid", "code": "code", "vocabulary": ["a", "a"]}, InvalidParameterError, "duplicate"),
        ({"patient": "pid", "code": "code", "patients": [1, 1]}, InvalidParameterError, "duplicate"),
    ],
)
def test_to_matrix_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        to_matrix(_long([(1, "a")]), **kwargs)  # type: ignore[arg-type]


def test_to_matrix_missing_column_error_names_it() -> None:
    with pytest.raises(InvalidDataError) as err:
        to_matrix(_long([(1, "a")]), patient="pid", code="icd9_code")
    assert err.value.column == "icd9_code"
    with pytest.raises(InvalidDataError, match="did you mean 'code'"):
        to_matrix(_long([(1, "a")]), patient="pid", code="CODE")


def test_to_matrix_refuses_numeric_codes_for_icd9_grouping() -> None:
    df = pd.DataFrame({"pid": [1, 2], "code": [389, 25000]})
    with pytest.raises(InvalidDataError, match="leading zeros") as err:
        to_matrix(df, patient="pid", code="code", grouping="icd9_3digit")
    assert err.value.column == "code"
    m = to_matrix(df, patient="pid", code="code")  # without grouping numbers are fine as labels
    assert m.columns.tolist() == ["25000", "389"]


def test_to_matrix_float_codes_become_integer_labels() -> None:
    df = pd.DataFrame({"pid": [1, 2, 3], "code": [7.0, np.nan, 12.0]})
    assert to_matrix(df, patient="pid", code="code").columns.tolist() == ["12", "7"]


def test_to_long_layout_and_prefix() -> None:
    m = pd.DataFrame(
        {"age": [30, 40], "dx_a": [1, 0], "dx_b": [2, 1]}, index=pd.Index(["p1", "p2"], name="pid")
    )
    binary = to_long(m, patient="pid", code="dx", prefix="dx_")
    assert binary.columns.tolist() == ["pid", "dx"]
    assert binary.to_numpy().tolist() == [["p1", "a"], ["p1", "b"], ["p2", "b"]]
    counted = to_long(m, patient="pid", code="dx", prefix="dx_", counts=True)
    assert counted.to_numpy().tolist() == [["p1", "a"], ["p1", "b"], ["p1", "b"], ["p2", "b"]]


@pytest.mark.parametrize(
    ("values", "counts", "match"),
    [
        ([1.0, np.nan], False, "missing or infinite"),
        ([1.0, np.inf], False, "missing or infinite"),
        ([1.0, -1.0], False, "negative"),
        ([1.0, 0.5], True, "non-integer"),
    ],
)
def test_to_long_bad_values(values: list[float], counts: bool, match: str) -> None:
    m = pd.DataFrame({"ok": [1.0, 0.0], "bad": values})
    with pytest.raises(InvalidDataError, match=match) as err:
        to_long(m, counts=counts)
    assert err.value.column == "bad"


def test_to_long_integer_and_bool_columns() -> None:
    m = pd.DataFrame({"a": [True, False], "b": np.array([0, 2], dtype=np.int64)})
    assert to_long(m, counts=True)["code"].tolist() == ["a", "b", "b"]
    with pytest.raises(InvalidDataError, match="negative") as err:
        to_long(m.assign(b=[-1, 2]))
    assert err.value.column == "b"


def test_to_long_bad_columns() -> None:
    with pytest.raises(InvalidDataError, match="strings"):
        to_long(pd.DataFrame({0: [1], 1: [0]}))
    with pytest.raises(InvalidDataError, match="holds object"):
        to_long(pd.DataFrame({"a": ["x"]}))
    with pytest.raises(InvalidDataError, match="prefix"):
        to_long(pd.DataFrame({"a": [1]}), prefix="dx_")
    with pytest.raises(InvalidParameterError):
        to_long(pd.DataFrame({"a": [1]}), patient="x", code="x")


pairs = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["038", "250", "V58", "E879", "a b", "x.1"])),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(pairs, st.booleans())
def test_to_long_inverts_to_matrix(rows: list[tuple[int, str]], counts: bool) -> None:
    df = pd.DataFrame(rows, columns=["subject", "icd"]).astype({"subject": "int64", "icd": object})
    m = to_matrix(df, patient="subject", code="icd", counts=counts)
    back = to_long(m, patient="subject", code="icd", counts=counts)
    if counts:  # the same multiset of (patient, code) rows
        assert sorted(map(tuple, back.to_numpy().tolist())) == sorted(rows)
    else:
        assert set(map(tuple, back.to_numpy().tolist())) == set(rows)
    assert m.index.tolist() == sorted({p for p, _ in rows})


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 12),
    st.integers(1, 8),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_to_matrix_inverts_to_long(n_patients: int, n_codes: int, counts: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    high = 4 if counts else 2
    values = rng.integers(0, high, size=(n_patients, n_codes)).astype(np.int32 if counts else np.uint8)
    m = pd.DataFrame(
        values,
        index=pd.Index([f"p{i}" for i in range(n_patients)], name="pid"),
        columns=[f"c{j}" for j in range(n_codes)],
    )
    long_df = to_long(m, patient="pid", code="code", counts=counts)
    again = to_matrix(
        long_df, patient="pid", code="code", counts=counts, vocabulary=list(m.columns), patients=m.index
    )
    pd.testing.assert_frame_equal(again, m, check_index_type=False, check_column_type=False)


@pytest.fixture(scope="module")
def mimic_diagnoses(mimic_demo: Path) -> pd.DataFrame:
    df = pd.read_csv(mimic_demo / "DIAGNOSES_ICD.csv", dtype=str)
    return df.rename(columns=str.lower)  # the demo uses lower-case names; full MIMIC-III upper-case


def test_mimic_demo_grouping(mimic_diagnoses: pd.DataFrame) -> None:
    m = to_matrix(mimic_diagnoses, patient="subject_id", code="icd9_code", grouping="icd9_3digit")
    assert len(m) == mimic_diagnoses["subject_id"].nunique() == 100
    # Patient 10006's rows (checked by hand in the file): 03819 (leading zero), V090, V5867, E8791, 25000.
    row = m.loc["10006"]
    for group in ["038", "V09", "V58", "E879", "250", "428", "424"]:
        assert row[group] == 1, group
    assert "0381" not in m.columns and "381" not in m.columns
    # Independent rule for MIMIC (no dots, >= 3 digits): E codes keep 4 characters, all others 3.
    codes = mimic_diagnoses["icd9_code"].dropna()
    expected = codes.where(codes.str.startswith("E"), codes.str[:3]).where(
        ~codes.str.startswith("E"), codes.str[:4]
    )
    assert sorted(expected.unique()) == m.columns.tolist()
    pairs = set(zip(mimic_diagnoses.loc[codes.index, "subject_id"], expected, strict=True))
    rows, cols = np.nonzero(m.to_numpy())
    ids, names = m.index.to_numpy(), m.columns.to_numpy()
    assert set(zip(ids[rows], names[cols], strict=True)) == pairs


def test_mimic_demo_counts_round_trip(mimic_diagnoses: pd.DataFrame) -> None:
    m = to_matrix(
        mimic_diagnoses, patient="subject_id", code="icd9_code", counts=True, grouping="icd9_3digit"
    )
    assert int(m.to_numpy().sum()) == mimic_diagnoses["icd9_code"].notna().sum()
    assert m.loc["10006", "424"] == 2  # 4241 and 4240 in the same admission
    back = to_long(m, patient="subject_id", code="icd9_code", counts=True)
    grouped = group_icd9_series(mimic_diagnoses["icd9_code"])
    expected = sorted(zip(mimic_diagnoses["subject_id"], grouped, strict=True))
    assert sorted(zip(back["subject_id"], back["icd9_code"], strict=True)) == expected


def test_mimic_demo_raw_codes_keep_leading_zeros(mimic_diagnoses: pd.DataFrame) -> None:
    m = to_matrix(mimic_diagnoses, patient="subject_id", code="icd9_code", prefix="icd_")
    assert m.shape[1] == mimic_diagnoses["icd9_code"].nunique()
    assert m.loc["10006", "icd_03819"] == 1
