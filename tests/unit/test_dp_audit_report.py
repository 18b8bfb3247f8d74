"""dp_audit's input validation, report (JSON keys, HTML escaping) and import hygiene; no training here."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support import DP_AUDIT_REPORT_KEYS

from ehrsynth.dp_verify.report import DPAuditReport, render_html
from ehrsynth.dp_verify.runner import dp_audit
from ehrsynth.errors import InvalidDataError, InvalidParameterError, PrivacyBudgetError

REQUIRED = DP_AUDIT_REPORT_KEYS


def small_table(n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame((rng.random((n, 8)) < 0.2).astype(np.uint8), columns=[f"c{i}" for i in range(8)])
    df["sex"] = rng.choice(["F", "M"], n)
    return df


def fake_data(**over: Any) -> dict[str, Any]:
    rule = {
        "attack": "reconstruction",
        "fraction": 0.2,
        "guesses": 80,
        "correct": 78,
        "epsilon_lower_bound": 2.1,
    }
    data: dict[str, Any] = {
        "epsilon_claimed": 1.0,
        "delta": 1e-5,
        "epsilon_lower_bound": 2.1,
        "confidence": 0.95,
        "canaries": 200,
        "runs": 1,
        "method": "one-run <b>method</b>",
        "attack_auc": 0.97,
        "attack": "reconstruction",
        "refuted": True,
        "best_rule": rule,
        "rules": [rule],
        "attacks": {"reconstruction": {"auc": 0.97, "auc_ci": [0.95, 0.99], "tpr_at_fpr_0.05": 0.9}},
        "runs_detail": [
            {"seed": 1, "canaries_in": 97, "training_rows": 397, "epsilon_spent": 0.99, "fit_seconds": 3.2}
        ],
        "input": {"source": "<script>alert('x')</script>.csv", "rows": 300, "columns": 9},
        "notes": ["note with <tag> & ampersand"],
        "value": float("nan"),
    }
    data.update(over)
    return data


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"canaries": 5}, InvalidParameterError, "canaries"),
        ({"canaries": 20.5}, InvalidParameterError, "canaries"),
        ({"runs": 0}, InvalidParameterError, "runs"),
        ({"epsilon": -1.0}, PrivacyBudgetError, "positive"),
        ({"epsilon": float("nan")}, PrivacyBudgetError, "epsilon"),
        ({"epsilon": 1.0, "delta": 0.5}, PrivacyBudgetError, "delta"),
        ({"confidence": 1.5}, InvalidParameterError, "confidence"),
        ({"canaries": 20, "foo": 1}, InvalidParameterError, "foo"),
    ],
)
def test_bad_arguments_fail_before_training(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        dp_audit(small_table(), **kwargs)


def test_checkpoints_and_non_frames_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="checkpoint_dir"):
        dp_audit(small_table(), canaries=20, checkpoint_dir="ckpt")
    with pytest.raises(InvalidDataError):
        dp_audit([[1, 2]], canaries=20)  # type: ignore[arg-type]


def test_report_json_has_the_required_keys_and_no_nan() -> None:
    report = DPAuditReport(fake_data())
    data = json.loads(report.to_json())
    assert set(data) >= REQUIRED
    assert data["value"] is None  # non-finite numbers become null
    assert report.refuted is True
    assert report.epsilon_lower_bound == 2.1 and report.epsilon_claimed == 1.0
    assert "refuted=True" in repr(report)
    assert DPAuditReport(fake_data(epsilon_claimed=None, refuted=False)).epsilon_claimed is None


def test_html_is_self_contained_and_escapes_user_strings() -> None:
    page = render_html(fake_data())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;tag&gt; &amp; ampersand" in page
    assert "<b>method</b>" not in page
    assert "CLAIM REFUTED" in page
    assert "http" not in page  # no external assets
    assert "NO DP CLAIM" in render_html(fake_data(epsilon_claimed=None, refuted=False))
    assert "CONSISTENT WITH CLAIM" in render_html(fake_data(refuted=False))


def test_report_files_are_written(tmp_path: Any) -> None:
    report = DPAuditReport(fake_data())
    report.save_json(tmp_path / "a.json")
    report.save_html(tmp_path / "a.html")
    assert json.loads((tmp_path / "a.json").read_text())["canaries"] == 200
    assert (tmp_path / "a.html").read_text().startswith("<!DOCTYPE html>")


def test_privacy_imports_without_torch_and_reexports_the_function() -> None:
    code = (
        "import sys, ehrsynth.privacy, ehrsynth.privacy.auditor, ehrsynth.privacy.report; "
        "assert 'torch' not in sys.modules, 'ehrsynth.privacy imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import ehrsynth.dp_verify.runner as runner
    import ehrsynth.privacy as package

    assert package.dp_audit is runner.dp_audit and package.DPAuditReport is runner.DPAuditReport
    subprocess.run([sys.executable, "-c", code], check=True)
    from ehrsynth.privacy import dp_audit as function

    with pytest.raises(InvalidParameterError, match="canaries"):
        function(small_table(), canaries=1)
