"""Report rendering: strict JSON, self-contained HTML with every user string escaped, SVG charts, and the
optional SDMetrics score (exercised with a stand-in module, since sdmetrics is not a dependency)."""

from __future__ import annotations

import json
import re
import sys
import types
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from ehrsynth.evaluation import EvaluationReport, evaluate
from ehrsynth.evaluation.report import jsonable
from ehrsynth.evaluation.svg import bar_svg, heatmap_svg, scatter_svg

EVIL = '<script>alert("x")</script>'


def small_tables(n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    def one(seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        z = rng.normal(size=n)
        return pd.DataFrame(
            {
                EVIL: (z + rng.normal(0, 0.5, n) > 0).astype(int),
                "dx_b": (z + rng.normal(0, 0.5, n) > 0.5).astype(int),
                "dx_c": (rng.random(n) < 0.3).astype(int),
                "group": np.where(z > 0, "<b>hi</b>", "lo & behold"),
                "visits": rng.poisson(2, n),
                "weight": rng.normal(80, 10, n),
            }
        )

    return one(1), one(2), one(3)


def test_jsonable() -> None:
    value = {"a": np.float32(1.5), 2: [np.nan, np.inf, np.int64(3)], "t": (np.bool_(True), None), "o": object}
    out = jsonable(value)
    assert out == {"a": 1.5, "2": [None, None, 3], "t": [True, None], "o": str(object)}
    json.dumps(out, allow_nan=False)


def test_html_is_self_contained_and_escaped() -> None:
    train, test, synth = small_tables()
    report = evaluate(train, test, synth, target="group", top_k=3)
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "<script" not in page  # the evil column name is escaped everywhere
    assert "&lt;script&gt;" in page
    assert "group=&lt;b&gt;hi&lt;/b&gt;" in page and "<b>hi</b>" not in page  # a category in the heatmap
    assert not re.search(r"(src|href)=\"?https?:", page)  # nothing external
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) >= 5  # probability, prediction, count, heatmap, TVD/KS bars
    for svg in svgs:
        ElementTree.fromstring(svg)  # well-formed XML: every label was escaped
    for label in (
        "Dimension-wise probability",
        "Pairwise: correlation MAE",
        "TSTR: Brier skill",
        "independent marginals",
    ):
        assert label in page
    # JSON round trip of the same report
    assert EvaluationReport(json.loads(report.to_json())).to_dict() == report.to_dict()


def test_svg_charts_escape_and_skip_missing_values() -> None:
    s = scatter_svg(
        [0.1, None, 0.5],
        [0.2, 0.3, float("nan")],
        title=EVIL,
        xlabel="x<",
        ylabel="y>",
        labels=["a&b", "c", "d"],
    )
    assert "<script" not in s and "a&amp;b" in s and "x&lt;" in s
    assert s.count("<circle") == 1
    h = heatmap_svg([[0.0, -0.5], [0.5, None]], ["<a>", "b"], title="t")
    assert "&lt;a&gt;" in h and "#ccc" in h and h.count("<rect") == 4
    b = bar_svg(["x", "y", "z"], [0.2, None, 0.9], title="t")
    assert b.count("<rect") == 2


def test_sdmetrics_absent_gives_null_with_note() -> None:
    train, test, synth = small_tables()
    d = evaluate(train, test, synth, top_k=2, baselines=False).to_dict()
    if "sdmetrics" in sys.modules or _importable("sdmetrics"):
        pytest.skip("sdmetrics is installed here")
    assert d["sdmetrics_quality"] is None and "not installed" in d["sdmetrics_note"]


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_sdmetrics_score_used_when_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class QualityReport:
        def generate(
            self, real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict[str, Any], verbose: bool
        ) -> None:
            seen.update(real=real, synthetic=synthetic, metadata=metadata, verbose=verbose)

        def get_score(self) -> float:
            return 0.875

    single_table = types.ModuleType("sdmetrics.reports.single_table")
    single_table.QualityReport = QualityReport  # type: ignore[attr-defined]
    for name, module in [
        ("sdmetrics", types.ModuleType("sdmetrics")),
        ("sdmetrics.reports", types.ModuleType("sdmetrics.reports")),
        ("sdmetrics.reports.single_table", single_table),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    train, test, synth = small_tables()
    d = evaluate(train, test, synth, top_k=2, baselines=False).to_dict()
    assert d["sdmetrics_quality"] == 0.875
    assert seen["verbose"] is False and len(seen["real"]) == len(train)
    kinds = {k: v["sdtype"] for k, v in seen["metadata"]["columns"].items()}
    assert kinds == {
        "group": "categorical",
        "visits": "numerical",
        "weight": "numerical",
        EVIL: "categorical",
        "dx_b": "categorical",
    }

    def broken(self: object) -> float:
        raise RuntimeError("boom")

    monkeypatch.setattr(QualityReport, "get_score", broken)
    with pytest.warns(RuntimeWarning, match="SDMetrics quality report failed"):
        d = evaluate(train, test, synth, top_k=2, baselines=False).to_dict()
    assert d["sdmetrics_quality"] is None and "RuntimeError: boom" in d["sdmetrics_note"]
