"""The four reports (privacy audit, DP audit, utility evaluation, image evaluation) are one kind of object: each
is a :class:`ehrsynth.reporting.Report` with ``to_dict``/``to_json``/``save_json``/``save_html``/``summary``, and
each page escapes a hostile string that reached the report from the user (a column name, a file name, a note)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ehrsynth.reporting import Report

EVIL = '<script>alert("x")</script>'


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "sex": rng.choice(["F", "M"], n),
            EVIL: (rng.random(n) < 0.3).astype(int),  # a hostile column name
            "dx_2": (rng.random(n) < 0.2).astype(int),
        }
    )


def privacy_audit_report() -> Report:
    from ehrsynth.privacy import audit

    tables = (_table(80, 0), _table(80, 1), _table(80, 2))
    return audit(*tables, n_bootstrap=100, n_components=4, quasi_identifiers=["age", EVIL])


def evaluation_report() -> Report:
    from ehrsynth.evaluation import evaluate

    return evaluate(_table(80, 0), _table(60, 1), _table(70, 2), top_k=2, baselines=False)


def dp_audit_report() -> Report:
    from ehrsynth.dp_verify.report import DPAuditReport

    rule = {
        "attack": "reconstruction",
        "fraction": 0.2,
        "guesses": 80,
        "correct": 70,
        "epsilon_lower_bound": 0.5,
    }
    return DPAuditReport(
        {
            "epsilon_claimed": 1.0,
            "delta": 1e-5,
            "epsilon_lower_bound": 0.5,
            "confidence": 0.95,
            "canaries": 200,
            "runs": 1,
            "method": "one-run",
            "attack_auc": 0.6,
            "attack": "reconstruction",
            "refuted": False,
            "best_rule": rule,
            "rules": [rule],
            "attacks": {"reconstruction": {"auc": 0.6, "auc_ci": [0.5, 0.7]}},
            "runs_detail": [],
            "input": {"source": f"{EVIL}.csv", "rows": 300, "columns": 9},
            "notes": [EVIL],
        }
    )


def image_report() -> Report:
    from ehrsynth.imaging.report import ImageEvaluationReport

    return ImageEvaluationReport({"tstr_auc": 0.8, "trtr_auc": 0.9, "classes": [EVIL, "b"], "notes": [EVIL]})


BUILDERS: dict[str, Callable[[], Report]] = {
    "privacy audit": privacy_audit_report,
    "DP audit": dp_audit_report,
    "evaluation": evaluation_report,
    "image evaluation": image_report,
}


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_each_report_is_a_report_with_the_same_methods(kind: str, tmp_path: Path) -> None:
    report = BUILDERS[kind]()
    assert isinstance(report, Report)
    data = report.to_dict()
    assert json.loads(report.to_json()) == data
    data["mutated"] = True
    assert "mutated" not in report.to_dict()  # a copy
    assert report.summary()  # every report has a non-empty headline
    report.save_json(tmp_path / "r.json")
    report.save_html(tmp_path / "r.html")
    assert json.loads((tmp_path / "r.json").read_text()) == report.to_dict()
    page = (tmp_path / "r.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page  # the hostile string is shown, escaped
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_reports_subclass_the_base() -> None:
    from ehrsynth.dp_verify.report import DPAuditReport
    from ehrsynth.evaluation.report import EvaluationReport
    from ehrsynth.imaging.report import ImageEvaluationReport
    from ehrsynth.privacy.report import AuditReport

    for cls in (AuditReport, DPAuditReport, EvaluationReport, ImageEvaluationReport):
        assert issubclass(cls, Report), cls
        for method in ("to_dict", "to_json", "save_json", "save_html", "summary", "to_html"):
            assert callable(getattr(cls, method)), (cls, method)
        assert cls.summary is not Report.summary and cls.to_html is not Report.to_html, cls


def test_privacy_report_keeps_its_own_api(tmp_path: Path) -> None:
    report: Any = privacy_audit_report()
    assert report.verdict in ("low", "medium", "high")
    assert set(report.verdicts) >= {"membership", "attribute_inference", "singling_out"}
    assert isinstance(report.summary(), list) and report.fails("never") is False
    assert repr(report).startswith("AuditReport(verdict=")
