"""On real data (../shared/data, read in place, never copied): a column-shuffled copy of train must score
clearly worse than a decent synthetic table on every dependence metric.

The "decent synthetic" is a disjoint sample of real patients from the same population — what an ideal
generator would produce. Data: Diabetes 130-US hospitals (Strack et al. 2014, UCI id 296, CC BY 4.0) and the
MIMIC-III Clinical Database Demo v1.4 (Johnson, Pollard, Mark 2019, PhysioNet, ODbL).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.evaluation import EvaluationReport, column_shuffled, evaluate

DEMOGRAPHICS = ["race", "gender", "age", "admission_type_id", "A1Cresult", "readmitted"]
NUMBERS = ["time_in_hospital", "num_lab_procedures", "num_medications"]


def icd9_3digit(code: str) -> str:
    code = code.strip().upper()
    head = code.split(".")[0]
    if code.startswith("E"):
        return head[:4]
    if code.startswith("V"):
        return head[:3]
    return head.zfill(3)[:3]


def diabetes_patients(path: Path, n_patients: int, seed: int) -> pd.DataFrame:
    """One row per patient: first-encounter demographics, 3-digit ICD-9 indicators over all encounters."""
    df = pd.read_csv(path, dtype=str, na_values=["?"])
    rng = np.random.default_rng(seed)
    keep = rng.choice(df["patient_nbr"].unique(), size=n_patients, replace=False)
    df = df[df["patient_nbr"].isin(keep)]
    df = df.assign(encounter_id=df["encounter_id"].astype(int)).sort_values(["patient_nbr", "encounter_id"])
    first = df.groupby("patient_nbr").first()[DEMOGRAPHICS + NUMBERS].astype({c: int for c in NUMBERS})
    long = df.melt(id_vars="patient_nbr", value_vars=["diag_1", "diag_2", "diag_3"]).dropna()
    long["code"] = "dx_" + long["value"].map(icd9_3digit)
    codes = pd.crosstab(long["patient_nbr"], long["code"]).clip(upper=1).astype(np.uint8)
    table = first.join(codes).fillna(0)
    table[codes.columns] = table[codes.columns].astype(np.uint8)
    return table.reset_index(drop=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def diabetes_reports(diabetes_csv: Path) -> dict[str, EvaluationReport]:
    table = diabetes_patients(diabetes_csv, 6000, seed=0)
    train, test, decent = table.iloc[:3000], table.iloc[3000:4500], table.iloc[4500:]
    shuffled = column_shuffled(train, random_state=1)
    return {
        name: evaluate(train, test, synth, target="readmitted", top_k=30, baselines=name == "shuffled")
        for name, synth in (("decent", decent), ("shuffled", shuffled))
    }


def test_diabetes_shuffled_copy_is_penalised(diabetes_reports: dict[str, EvaluationReport]) -> None:
    decent, shuffled = diabetes_reports["decent"].to_dict(), diabetes_reports["shuffled"].to_dict()
    assert decent["data"]["n_columns_evaluated"] > 400  # ~590 codes and demographics
    assert shuffled["dimension_wise_probability"]["rmse"] == 0.0  # marginals are kept exactly
    pair_d, pair_s = decent["pairwise"], shuffled["pairwise"]
    assert pair_s["correlation_mae"] > 1.2 * pair_d["correlation_mae"]
    assert pair_s["correlation_r"] < 0.2 < 0.6 < pair_d["correlation_r"]
    assert pair_s["cooccurrence"]["relative_error"] > pair_d["cooccurrence"]["relative_error"]
    pred_d, pred_s = decent["dimension_wise_prediction"], shuffled["dimension_wise_prediction"]
    assert abs(pred_s["auroc_synthetic"] - 0.5) < 0.05
    assert pred_d["auroc_synthetic"] > pred_s["auroc_synthetic"] + 0.15
    tstr_d, tstr_s = decent["tstr"], shuffled["tstr"]
    assert tstr_s["auroc_synthetic"] < 0.58 and tstr_s["brier_skill_synthetic"] < 0.02
    assert tstr_d["auroc_synthetic"] > tstr_s["auroc_synthetic"] + 0.1
    assert tstr_d["brier_skill_synthetic"] > 0.05


def test_diabetes_floor_matches_the_shuffled_copy(diabetes_reports: dict[str, EvaluationReport]) -> None:
    shuffled = diabetes_reports["shuffled"].to_dict()
    floor = shuffled["baselines"]["independent_marginals"]
    # independent marginals and a shuffled copy both have no dependence: their scores agree
    assert abs(floor["dimension_wise_prediction"]["auroc_synthetic"] - 0.5) < 0.05
    assert floor["pairwise"]["correlation_mae"] == pytest.approx(
        shuffled["pairwise"]["correlation_mae"], rel=0.25
    )


def mimic_patient_codes(mimic_demo: Path) -> pd.DataFrame:
    dx = pd.read_csv(mimic_demo / "DIAGNOSES_ICD.csv", dtype=str).dropna(subset=["icd9_code"])
    assert dx["icd9_code"].str.startswith("0").any()  # codes keep their leading zeros as strings
    dx["code"] = "dx_" + dx["icd9_code"].map(icd9_3digit)
    table = pd.crosstab(dx["subject_id"], dx["code"]).clip(upper=1).astype(np.uint8)
    return table.reset_index()


def test_mimic_demo_patient_by_code(mimic_demo: Path) -> None:
    table = mimic_patient_codes(mimic_demo)
    train, test = table.iloc[::2].reset_index(drop=True), table.iloc[1::2].reset_index(drop=True)
    same = evaluate(train, test, train, top_k=15, baselines=False).to_dict()
    shuffled = evaluate(
        train, test, column_shuffled(train, random_state=0), top_k=15, baselines=False
    ).to_dict()
    assert same["columns"]["excluded"] == {
        "subject_id": "identifier-like: key name and mostly distinct values"
    }
    assert any(c.startswith("dx_0") for c in same["columns"]["binary"])
    assert (
        same["pairwise"]["correlation_r"] == pytest.approx(1.0) and same["pairwise"]["correlation_mae"] == 0.0
    )
    assert shuffled["pairwise"]["correlation_r"] < 0.5
    assert shuffled["pairwise"]["correlation_mae"] > 0.05
