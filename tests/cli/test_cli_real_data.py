"""The CLI on real open data from ../shared/data (skipped when absent): MIMIC-III demo diagnoses in long format
(Johnson, Pollard & Mark 2019, ODbL) and a slice of Diabetes 130-US hospitals (Strack et al. 2014, CC BY 4.0)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ehrsynth.cli.main import main

FAST = ["--epochs", "2", "--ae-epochs", "2", "--quiet", "--seed", "0"]


def test_mimic_long_diagnoses_no_dp(mimic_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "dx.csv"
    args = ["synthesize", str(mimic_demo / "DIAGNOSES_ICD.csv"), "--long", "--patient", "subject_id"]
    args += ["--code", "icd9_code", "--grouping", "icd9_3digit", "-o", str(out), "--no-dp", *FAST]
    assert main(args) == 0
    synth = pd.read_csv(out, dtype=str)
    assert list(synth.columns) == ["subject_id", "icd9_code"]
    real = pd.read_csv(mimic_demo / "DIAGNOSES_ICD.csv", dtype=str)
    real_ids = set(real["subject_id"])
    # fresh patient ids 1..n, never the real ones (the demo's ids are 10006 and up)
    assert not set(synth["subject_id"]) & real_ids
    assert synth["icd9_code"].str.len().between(3, 4).all()  # grouped codes
    meta = json.loads((tmp_path / "dx.csv.meta.json").read_text())
    assert meta["layout"] == "long" and meta["epsilon"] is None


def test_mimic_long_dp_drops_codes_of_single_patients(mimic_demo: Path, tmp_path: Path) -> None:
    """Under DP (no declared schema) a code held by one patient must not appear in the model dir or output."""
    from ehrsynth.codes import to_matrix

    real = pd.read_csv(mimic_demo / "DIAGNOSES_ICD.csv", dtype=str)
    matrix = to_matrix(real, patient="subject_id", code="icd9_code", grouping="icd9_3digit")
    singletons = {str(c) for c in matrix.columns[(matrix > 0).sum(axis=0) == 1]}
    assert singletons
    model_dir = tmp_path / "m"
    args = [
        "fit",
        str(mimic_demo / "DIAGNOSES_ICD.csv"),
        "--long",
        "--patient",
        "subject_id",
        "--code",
        "icd9_code",
    ]
    args += ["--grouping", "icd9_3digit", "-o", str(model_dir), "--epsilon", "3", *FAST]
    assert main(args) == 0
    schema_text = (model_dir / "schema.json").read_text()
    names = {c["name"] for c in json.loads(schema_text)["columns"]}
    assert not names & singletons
    out = tmp_path / "s.csv"
    assert main(["sample", str(model_dir), "-n", "200", "-o", str(out), "--seed", "1"]) == 0
    synth = pd.read_csv(out, dtype=str)
    assert not set(synth["icd9_code"]) & singletons


def test_diabetes_slice_dp(diabetes_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(diabetes_csv, nrows=3000, na_values=["?"])
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
