"""ehrsynth.privacy.audit on generated data: positive and negative controls, report shape, HTML safety."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ehrsynth.privacy import AuditReport, audit

N = 400
N_CODES = 60


def population(n: int, seed: int) -> pd.DataFrame:
    """Patients with age, sex and correlated binary codes (power-law prevalences, one latent factor)."""
    rng = np.random.default_rng(seed)
    prevalence = 0.4 * np.arange(1, N_CODES + 1) ** -0.6
    z = rng.standard_normal((n, 1))
    p = 1 / (1 + np.exp(-(np.log(prevalence / (1 - prevalence))[None, :] + 0.8 * z)))
    codes = (rng.random((n, N_CODES)) < p).astype(np.uint8)
    df = pd.DataFrame(codes, columns=[f"dx_{j:03d}" for j in range(N_CODES)])
    df.insert(0, "age", rng.integers(18, 95, n))
    df.insert(1, "sex", rng.choice(["F", "M"], n))
    return df


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return {"train": population(N, 1), "holdout": population(N, 2), "independent": population(N, 3)}


@pytest.fixture(scope="module")
def copy_report(tables: dict[str, pd.DataFrame]) -> AuditReport:
    return audit(tables["train"], tables["holdout"], tables["train"].copy(), n_bootstrap=300)


@pytest.fixture(scope="module")
def independent_report(tables: dict[str, pd.DataFrame]) -> AuditReport:
    return audit(tables["train"], tables["holdout"], tables["independent"], n_bootstrap=300)


def test_positive_control_copy_of_train_is_high(copy_report: AuditReport) -> None:
    d = copy_report.to_dict()
    m = d["attacks"]["membership"]
    assert copy_report.verdict == "high"
    assert m["auc"] >= 0.95 and m["auc_ci"][0] > 0.9
    assert d["attacks"]["singling_out"]["exact_copies"]["attack_rate"] == 1.0
    assert d["verdicts"]["singling_out"] == "high"
    # the copies are the most exposed records
    assert all(r["exact_copy"] for r in d["per_record"]["records"])


def test_negative_control_independent_sample_is_low(independent_report: AuditReport) -> None:
    d = independent_report.to_dict()
    m = d["attacks"]["membership"]
    assert independent_report.verdict == "low", [i for i in d["indicators"] if i["level"] != "low"]
    assert m["auc_ci"][0] <= 0.5 <= m["auc_ci"][1]
    for attack in m["attacks"].values():
        assert attack["auc_ci"][0] <= 0.5 <= attack["auc_ci"][1]


def test_partial_leak_sits_between_the_controls(tables: dict[str, pd.DataFrame]) -> None:
    leak = pd.concat([tables["train"].iloc[:60], tables["independent"].iloc[60:]], ignore_index=True)
    report = audit(tables["train"], tables["holdout"], leak, n_bootstrap=300)
    m = report.to_dict()["attacks"]["membership"]
    assert report.verdict in ("medium", "high")
    assert 0.55 < m["auc"] < 0.95


def test_report_json_shape(copy_report: AuditReport) -> None:
    d = json.loads(copy_report.to_json())
    assert d["verdict"] in ("low", "medium", "high")
    m = d["attacks"]["membership"]
    for key in ("auc", "auc_ci", "tpr_at_fpr_0.01", "tpr_at_fpr_0.001", "presence", "attacks"):
        assert key in m
    assert set(m["attacks"]) == {"dcr", "dcr_calibrated", "density_ratio"}
    assert len(m["presence"]["thresholds"]) == 11
    assert set(d["attacks"]) == {"membership", "attribute_inference", "singling_out", "column_disclosure"}
    assert d["attacks"]["attribute_inference"]["attributes"]
    assert set(d["attacks"]["singling_out"]) >= {"singling_out", "exact_copies", "near_copies"}
    for role in ("train", "holdout", "synthetic"):
        assert d["inputs"][role]["rows"] == N and len(d["inputs"][role]["sha256"]) == 64
    assert d["version"] and d["parameters"]["random_state"] == 0
    assert len(d["per_record"]["top_train_indexes"]) == 20


def test_audit_is_reproducible(tables: dict[str, pd.DataFrame], independent_report: AuditReport) -> None:
    again = audit(tables["train"], tables["holdout"], tables["independent"], n_bootstrap=300)
    a, b = independent_report.to_dict(), again.to_dict()
    for d in (a, b):
        d.pop("timing_s"), d.pop("cpu_s")
    assert a == b


def test_default_columns_are_chosen_on_real_rows(copy_report: AuditReport) -> None:
    cols = copy_report.to_dict()["columns"]
    assert cols["quasi_identifiers"][:2] == ["age", "sex"]
    assert "dx_000" in cols["quasi_identifiers"]
    assert cols["sensitive"] and not set(cols["sensitive"]) & set(cols["quasi_identifiers"])
    assert cols["chosen_by"] == {"quasi_identifiers": "default", "sensitive": "default"}


def test_small_holdout_subsamples_members_with_a_warning(
    tables: dict[str, pd.DataFrame], caplog: pytest.LogCaptureFixture
) -> None:
    big_train = pd.concat([tables["train"], population(N, 4)], ignore_index=True)
    holdout = tables["holdout"].iloc[:150]
    with caplog.at_level("WARNING", logger="ehrsynth.privacy"):
        report = audit(big_train, holdout, tables["independent"], n_bootstrap=200)
    d = report.to_dict()
    assert "much smaller than train" in caplog.text
    assert any("much smaller" in n for n in d["notes"])
    assert d["attacks"]["membership"]["n_members"] == 150
    assert d["parameters"]["members"].startswith("seeded random subset of 150")
    assert max(d["per_record"]["top_train_indexes"]) < len(big_train)


def test_user_named_columns_and_mixed_only_data(tables: dict[str, pd.DataFrame]) -> None:
    rng = np.random.default_rng(0)

    def mixed(seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "age": r.integers(18, 95, N),
                "sex": r.choice(["F", "M"], N),
                "bmi": np.round(r.normal(27, 4, N), 1),
                "a1c": r.choice(np.array([">7", ">8", "Norm", None], dtype=object), N),
            }
        )

    tr, ho = mixed(1), mixed(2)
    syn = tr.copy()
    syn["bmi"] = syn["bmi"] + rng.normal(0, 0.05, N)  # near copies, not exact
    report = audit(tr, ho, syn, quasi_identifiers=["age", "sex"], sensitive="a1c", n_bootstrap=200)
    d = report.to_dict()
    assert d["columns"]["chosen_by"] == {"quasi_identifiers": "user", "sensitive": "user"}
    assert list(d["attacks"]["attribute_inference"]["attributes"]) == ["a1c"]
    assert d["attacks"]["singling_out"]["near_copies"]["attack_rate"] == 1.0
    assert report.verdict == "high"


def _svgs(page: str) -> list[str]:
    out, start = [], 0
    while (i := page.find("<svg", start)) >= 0:
        j = page.index("</svg>", i) + len("</svg>")
        out.append(page[i:j])
        start = j
    return out


def test_html_is_self_contained_and_escapes_user_strings(tables: dict[str, pd.DataFrame]) -> None:
    evil = "<script>alert(1)</script>"
    rename: dict[str, Any] = {"dx_050": evil, "sex": 'sex" onmouseover="x'}
    tr, ho, sy = (tables[k].rename(columns=rename) for k in ("train", "holdout", "independent"))
    report = audit(tr, ho, sy, sensitive=[evil], n_bootstrap=200)
    page = report.to_html()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'onmouseover="x' not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<link" not in page and "<img" not in page
    svgs = _svgs(page)
    assert len(svgs) >= 3  # ROC, distance histogram, attribute risk bars
    for svg in svgs:
        ET.fromstring(svg)  # well-formed XML
    assert "Threat model" in page and "Limitations" in page
    assert "per_record" not in page and "top_train_indexes" not in page  # per-record risk is JSON only


def test_privacy_audit_never_imports_torch() -> None:
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("torch is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
import numpy as np, pandas as pd
from ehrsynth.privacy import audit
rng = np.random.default_rng(0)
mk = lambda: pd.DataFrame((rng.random((120, 20)) < 0.2).astype(int), columns=[f"c{i}" for i in range(20)])
report = audit(mk(), mk(), mk(), n_bootstrap=100)
report.to_html()
print(report.verdict, "torch" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.split() == ["low", "False"]


def test_unusual_tables_still_audit() -> None:
    rng = np.random.default_rng(0)

    def numeric(n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "w": rng.normal(size=n)})

    report = audit(numeric(120), numeric(60), numeric(90), n_bootstrap=100)
    assert report.verdict == "low" and report.to_dict()["attacks"]["membership"]["n_nonmembers"] == 60

    def codes(n: int) -> pd.DataFrame:
        return pd.DataFrame({"a": rng.integers(0, 2, n), "never": np.zeros(n, int)})

    syn = codes(80).astype(float)
    syn.loc[::3, "a"] = np.nan  # another tool's output with gaps
    report = audit(codes(80), codes(80), syn, quasi_identifiers="a,never", n_bootstrap=100)
    d = report.to_dict()
    assert d["attacks"]["attribute_inference"]["skipped"]
    assert "Skipped:" in report.to_html()
