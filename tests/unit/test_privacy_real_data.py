"""Controls on real data: Diabetes 130-US hospitals (Strack et al. 2014, UCI id 296, CC BY 4.0), read in place
from ../shared/data (skipped when absent; nothing derived from it is written anywhere).

Patients (one encounter each) are split at random into disjoint train / holdout / independent sets. A copy of
train must be flagged high; an independent sample of the same population must be low. Both on the mixed-type
table itself and on a patient x 3-digit ICD-9 code table built from its diagnosis columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.io.tables import read_table
from ehrsynth.privacy import AuditReport, audit

N = 1200


@pytest.fixture(scope="module")
def patients(diabetes_csv: Path) -> dict[str, pd.DataFrame]:
    df = read_table(diabetes_csv).drop_duplicates("patient_nbr")
    order = np.random.default_rng(2024).permutation(len(df))[: 3 * N]
    picked = df.iloc[order].reset_index(drop=True)
    return {
        name: picked.iloc[i * N : (i + 1) * N].reset_index(drop=True)
        for i, name in enumerate(("tr", "ho", "ind"))
    }


def _icd3(code: object) -> str | None:
    if not isinstance(code, str):
        return None
    head = code.split(".")[0]
    return head[:4] if head.startswith("E") else head[:3]


@pytest.fixture(scope="module")
def code_tables(patients: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Patient x 3-digit ICD-9 code presence (0/1), codes seen in at least 5 of the selected patients."""
    long = []
    for name, df in patients.items():
        for col in ("diag_1", "diag_2", "diag_3"):
            long.append(pd.DataFrame({"set": name, "row": np.arange(len(df)), "code": df[col].map(_icd3)}))
    codes = pd.concat(long).dropna()
    keep = codes.groupby("code")["row"].size()
    codes = codes[codes["code"].isin(keep[keep >= 5].index)]
    vocab = sorted(codes["code"].unique())
    out = {}
    for name in patients:
        sub = codes[codes["set"] == name]
        m = np.zeros((N, len(vocab)), dtype=np.uint8)
        m[sub["row"].to_numpy(), np.searchsorted(vocab, sub["code"].to_numpy())] = 1
        frame = pd.DataFrame(m, columns=[f"icd_{c}" for c in vocab])
        frame.insert(0, "gender", patients[name]["gender"].to_numpy())
        frame.insert(1, "age", patients[name]["age"].to_numpy())
        out[name] = frame
    return out


def _check_negative(report: AuditReport) -> None:
    d = report.to_dict()
    raised = [(i["name"], i["value"], i["test_lower"]) for i in d["indicators"] if i["level"] != "low"]
    assert report.verdict == "low", raised
    lo, hi = d["attacks"]["membership"]["auc_ci"]
    assert lo <= 0.5 <= hi


def _check_positive(report: AuditReport) -> None:
    d = report.to_dict()
    assert report.verdict == "high"
    assert d["attacks"]["membership"]["auc"] >= 0.95


def test_mixed_table_controls(patients: dict[str, pd.DataFrame]) -> None:
    tr, ho, ind = patients["tr"], patients["ho"], patients["ind"]
    positive = audit(tr, ho, tr.copy(), n_bootstrap=300)
    _check_positive(positive)
    dropped = {c["name"] for c in positive.to_dict()["columns"]["dropped_identifiers"]}
    assert {"encounter_id", "patient_nbr"} <= dropped
    _check_negative(audit(tr, ho, ind, n_bootstrap=300))


def test_code_table_controls(code_tables: dict[str, pd.DataFrame]) -> None:
    tr, ho, ind = code_tables["tr"], code_tables["ho"], code_tables["ind"]
    positive = audit(tr, ho, tr.sample(frac=1.0, random_state=0), n_bootstrap=300)  # shuffled copy
    _check_positive(positive)
    kinds = positive.to_dict()["columns"]["counts"]
    assert kinds["binary"] == tr.shape[1] - 2
    _check_negative(audit(tr, ho, ind, n_bootstrap=300))
