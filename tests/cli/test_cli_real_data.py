"""The CLI on real open data from ../shared/data (skipped when absent): MIMIC-III demo diagnoses in long format
(Johnson, Pollard & Mark 2019, ODbL) and a slice of Diabetes 130-US hospitals (Strack et al. 2014, CC BY 4.0)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ehrsynth.cli.main import main

FAST = ["--epochs", "2", "--ae-epochs", "2", "--query-steps", "30", "--quiet", "--seed", "0"]


def test_mimic_long_diagnoses_no_dp(mimic_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "dx.csv"
    args = ["synthesize", str(mimic_demo / "DIAGNOSES_ICD.csv"), "--long", "--patient", "subject_id"]
    args += ["--code", "icd9_code", "--grouping", "icd9_3digit", "-o", str(out), "--no-dp", *FAST]
    assert main(args) == 0
    synth = pd.read_csv(out, dtype=str)
    assert list(synth.columns) == ["subject_id", "icd9_code"]
    real = pd.read_csv(mimic_demo / "DIAGNOSES_ICD.csv", dtype=str)
    real_ids = set(real["subject_id"])
    # fresh patient ids, never the real ones
    assert not set(synth["subject_id"]) & real_ids
    assert synth["icd9_code"].str.len().between(3, 4).all()  # grouped codes
    meta = json.loads((tmp_path / "dx.csv.meta.json").read_text())
    assert meta["layout"] == "long" and meta["epsilon"] is None


def test_mimic_dp_too_small_is_refused_clearly(mimic_demo: Path, tmp_path: Path, capsys) -> None:
    """100 patients cannot release any code under DP at epsilon 3: a clear one-line error, nothing written."""
    args = [
        "fit",
        str(mimic_demo / "DIAGNOSES_ICD.csv"),
        "--long",
        "--patient",
        "subject_id",
        "--code",
        "icd9_code",
    ]
    args += ["--grouping", "icd9_3digit", "-o", str(tmp_path / "m"), "--epsilon", "3", *FAST]
    assert main(args) == 2
    assert "no column is left to model" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_long_dp_never_releases_codes_of_single_patients(diabetes_csv: Path, tmp_path: Path) -> None:
    """Under DP (no declared schema) a code held by one patient appears neither in the model dir nor the output."""
    from ehrsynth.codes import to_matrix

    enc = pd.read_csv(diabetes_csv, nrows=30000, dtype=str)
    long = enc.melt(id_vars=["patient_nbr"], value_vars=["diag_1", "diag_2", "diag_3"], value_name="code")
    long = long[long["code"] != "?"][["patient_nbr", "code"]]
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False)
    matrix = to_matrix(long, patient="patient_nbr", code="code", grouping="icd9_3digit")
    singletons = {str(c) for c in matrix.columns[(matrix > 0).sum(axis=0) == 1]}
    assert len(singletons) > 10
    model_dir = tmp_path / "m"
    args = [
        "fit",
        str(path),
        "--long",
        "--patient",
        "patient_nbr",
        "--code",
        "code",
        "--grouping",
        "icd9_3digit",
    ]
    assert main([*args, "-o", str(model_dir), "--epsilon", "3", *FAST]) == 0
    names = {c["name"] for c in json.loads((model_dir / "schema.json").read_text())["columns"]}
    assert names and not names & singletons
    out = tmp_path / "s.csv"
    assert main(["sample", str(model_dir), "-n", "3000", "-o", str(out), "--seed", "1"]) == 0
    synth = pd.read_csv(out, dtype=str)
    assert list(synth.columns) == ["patient_nbr", "code"]
    assert not set(synth["code"]) & singletons


@pytest.mark.slow  # end to end on real data; the DP CLI path runs faster in tests/cli/test_cli_train.py
def test_diabetes_slice_dp(diabetes_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(diabetes_csv, nrows=30000, na_values=["?"])
    df = df.drop_duplicates("patient_nbr")  # one row per patient: repeated patients are refused under DP
    cols = ["encounter_id", "patient_nbr", "race", "gender", "age", "admission_type_id", "time_in_hospital"]
    cols += ["num_lab_procedures", "num_medications", "diag_1", "A1Cresult", "insulin", "readmitted"]
    path = tmp_path / "diabetes.csv"
    df[cols].to_csv(path, index=False)
    out = tmp_path / "s.csv"
    assert main(["synthesize", str(path), "-o", str(out), "--epsilon", "3", *FAST]) == 0
    synth = pd.read_csv(out)
    assert list(synth.columns) == cols
    assert set(synth["readmitted"].dropna()) <= {"NO", ">30", "<30"}
    assert not set(synth["encounter_id"]) & set(df["encounter_id"])
    single = df["diag_1"].value_counts()
    rare = set(single[single == 1].index)
    assert not rare & set(synth["diag_1"].dropna().astype(str))  # values of one patient never released
