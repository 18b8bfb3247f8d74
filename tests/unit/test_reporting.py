"""The shared report layer (issue 10.7) and the evaluation page that leads with an answer (issue 14.7)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support_layout import clipped_labels

from ehrsynth.evaluation import EvaluationReport, evaluate
from ehrsynth.evaluation.headline import headline
from ehrsynth.evaluation.html import render_html
from ehrsynth.evaluation.svg import bar_svg, heatmap_svg, scatter_svg
from ehrsynth.reporting import Report, jsonable
from ehrsynth.reporting.html import Markup, esc, page, table, tag

EVIL = '<script>alert("x")</script>'
LONG = [f"a_rather_long_column_name_number_{i}_with_a_suffix" for i in range(6)]


class _Toy(Report):
    def summary(self) -> dict[str, Any]:
        return {"n": self["n"]}

    def to_html(self) -> str:
        return page(self["title"], tag("p", self["title"]))


def test_report_base_json_html_and_copy(tmp_path: Path) -> None:
    report = _Toy({"n": np.int64(3), "x": np.nan, "title": EVIL})
    assert report.to_dict() == {"n": 3, "x": None, "title": EVIL}
    report.to_dict()["n"] = 99
    assert report["n"] == 3 and report.summary() == {"n": 3}
    report.save_json(tmp_path / "r.json")
    report.save_html(tmp_path / "r.html")
    assert json.loads((tmp_path / "r.json").read_text())["title"] == EVIL
    text = (tmp_path / "r.html").read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    with pytest.raises(NotImplementedError):
        Report({}).to_html()


def test_html_helpers_escape_by_default() -> None:
    assert esc(EVIL) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert esc(Markup("<b>ok</b>")) == "<b>ok</b>"
    cell = table(["<th>"], [[EVIL], [Markup("<i>x</i>")]])
    assert "<script>" not in cell and "<i>x</i>" in cell and "&lt;th&gt;" in cell
    assert tag("a", "t", title='"q"') == '<a title="&quot;q&quot;">t</a>'


def test_one_jsonable() -> None:
    from ehrsynth.evaluation.report import jsonable as evaluation_jsonable

    assert evaluation_jsonable is jsonable
    assert jsonable({1: (np.float32(0.5), np.inf)}) == {"1": [0.5, None]}


def _report(**over: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "data": {"n_train": 100, "n_test": 50, "n_synthetic": 100},
        "marginals": {"tvd_mean": 0.02, "ks_mean": 0.338, "tvd": {}, "ks": {}},
        "dimension_wise_probability": {"pearson_r": 0.9, "rmse": 0.03},
        "pairwise": {"correlation_mae": 0.05, "correlation_r": 0.9, "cooccurrence": None},
        "dimension_wise_prediction": {"auroc_synthetic": 0.7, "auroc_real": 0.8, "f1_synthetic": None},
        "tstr": None,
        "sdmetrics_quality": None,
        "baselines": {
            "independent_marginals": {
                "marginals": {"tvd_mean": 0.01, "ks_mean": 0.007},
                "dimension_wise_probability": {"pearson_r": 0.95, "rmse": 0.02},
                "pairwise": {"correlation_mae": 0.2, "correlation_r": 0.1},
                "dimension_wise_prediction": {"auroc_synthetic": 0.5},
            },
            "holdout": {
                "marginals": {"tvd_mean": 0.015, "ks_mean": 0.03},
                "dimension_wise_probability": {"pearson_r": 0.97, "rmse": 0.025},
                "pairwise": {"correlation_mae": 0.03, "correlation_r": 0.95},
            },
        },
    }
    m.update(over)
    return m


def test_headline_scores_and_flags_metrics_worse_than_the_floor() -> None:
    areas = {a["area"]: a for a in headline(_report())}
    marg = areas["Single columns (marginals)"]
    assert marg["verdict"] == "worse than the floor"
    ks = next(r for r in marg["metrics"] if "KS" in r["metric"])
    assert ks["worse_than_floor"] and ks["floor"] == 0.007
    dep = areas["Pairs of columns (dependence)"]
    assert dep["score"] == pytest.approx((0.05 - 0.2) / (0.03 - 0.2))
    assert dep["verdict"] == "close to the real data"
    pred = areas["Predicting each code from the others"]
    assert pred["score"] == pytest.approx(2 / 3) and pred["verdict"] == "between the floor and the real data"


def test_page_leads_with_the_answer_without_sdmetrics() -> None:
    page_text = render_html(_report())
    assert page_text.index("<h2>Answer</h2>") < page_text.index("<h2>All metrics</h2>")
    assert "worse than the floor" in page_text and 'class="bad"' in page_text
    ks_row = next(r for r in re.findall(r"<tr.*?</tr>", page_text) if "mean KS (numeric)" in r)
    assert 'class="bad"' in ks_row and "0.338" in ks_row
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page_text):  # no row made only of dashes
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        assert not cells or any(
            re.sub(r"<[^>]+>", "", c).strip() not in ("—", "", "↑", "↓") for c in cells[1:]
        )
    assert "SDMetrics quality score" not in page_text and "mean F1" not in page_text


@pytest.mark.parametrize(
    "svg",
    [
        heatmap_svg([[0.1] * 6] * 6, LONG, title="t"),
        bar_svg(LONG, [0.3, 0.338, 0.9, 1.0, 0.01, 0.5], title="t"),
        scatter_svg(
            [0.001, 0.0123], [0.002, 0.01], title="t", xlabel="prevalence in real", ylabel="synthetic"
        ),
        scatter_svg([10_000.0, 250_000.0], [12_345.0, 1.0], title="t", xlabel="x" * 80, ylabel="y" * 80),
    ],
)
def test_no_label_is_clipped(svg: str) -> None:
    assert clipped_labels(svg) == []


def _tables(n: int = 240) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    def one(seed: int, shift: float = 0.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        z = rng.normal(size=n)
        return pd.DataFrame(
            {
                LONG[0]: (z + rng.normal(0, 0.5, n) > 0).astype(int),
                LONG[1]: (z + rng.normal(0, 0.5, n) > 0.5).astype(int),
                LONG[2]: np.where(z > 0, "high", "low"),
                LONG[3]: rng.normal(80 + shift, 10, n),
            }
        )

    return one(1), one(2), one(3, shift=30.0)


def test_rendered_evaluation_page_has_no_clipped_label() -> None:
    train, test, synth = _tables()
    page_html = evaluate(train, test, synth, top_k=2).to_html()
    svgs = re.findall(r"<svg.*?</svg>", page_html, flags=re.S)
    assert svgs and all(clipped_labels(s) == [] for s in svgs)
    assert "worse than the floor" in page_html  # the shifted numeric column


@pytest.mark.slow
def test_headless_browser_finds_no_clipped_text(tmp_path: Path) -> None:
    """Render the page in headless Chromium and measure every SVG text's box against its SVG."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no headless Chromium here (apt-get install chromium)")
    train, test, synth = _tables()
    page_html = evaluate(train, test, synth, top_k=2).to_html()
    probe = (
        "<script>const out=[];for(const s of document.querySelectorAll('svg')){const r=s.getBoundingClientRect();"
        "for(const t of s.querySelectorAll('text')){const b=t.getBoundingClientRect();"
        "if(b.left<r.left-1||b.top<r.top-1||b.right>r.right+1||b.bottom>r.bottom+1)out.push(t.textContent);}}"
        "const p=document.createElement('pre');p.id='clipped';p.textContent=JSON.stringify(out);"
        "document.body.appendChild(p);</script>"
    )
    path = tmp_path / "page.html"
    path.write_text(page_html.replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.findall(r'<pre id="clipped">(.*?)</pre>', dom, flags=re.S)
    assert found, dom[-2000:]
    assert json.loads(html.unescape(found[-1])) == []


def test_evaluation_report_is_a_report() -> None:
    assert issubclass(EvaluationReport, Report)
    report = EvaluationReport(_report())
    assert report.metrics["marginals"]["ks_mean"] == 0.338 and report.summary()["ks_mean"] == 0.338
    assert report.headline()[0]["verdict"] == "worse than the floor"


def test_image_report_is_a_report_without_dash_rows(tmp_path: Path) -> None:
    from ehrsynth.imaging.report import ImageEvaluationReport

    result = {"tstr_auc": 0.8, "trtr_auc": None, "memorisation": {"near_copies": 0}, "notes": [EVIL]}
    report = ImageEvaluationReport(result)
    page_text = report.to_html()
    assert "TRTR" not in page_text and "TSTR AUC" in page_text and "<script>" not in page_text
    assert report.summary()["tstr_auc"] == 0.8
    report.save_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["notes"] == [EVIL]
