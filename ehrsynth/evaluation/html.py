"""Render an evaluation report dict as one self-contained HTML page (inline SVG, no scripts).

The page leads with the answer (:mod:`ehrsynth.evaluation.headline`: per area, the synthetic table between
the independent-marginals floor and the real data, metrics worse than the floor in red), then every metric
(rows with nothing measured are left out), plots, columns and notes. Built with the escaping-by-default
helpers of :mod:`ehrsynth.reporting.html`: every string from the data or the user is escaped.
"""

from __future__ import annotations

from typing import Any

from ehrsynth.evaluation.headline import headline
from ehrsynth.evaluation.svg import bar_svg, heatmap_svg, scatter_svg
from ehrsynth.reporting.html import Markup, figure, join, num, page, table, tag

_STYLE = """
table.headline td,table.headline th{text-align:left}.meter{display:inline-block;height:10px;background:#1f77b4;vertical-align:middle}
.meter-bg{display:inline-block;width:100px;height:10px;background:#eee;margin-right:6px;vertical-align:middle}
tr.bad td{background:#ffebee}
"""
VERDICT_CLASS = {"worse than the floor": "bad", "close to the real data": "good"}


def _num(v: Any) -> Markup:
    return num(v)


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


#: (label, better direction, path in the metrics, key of the real-data reference, has a holdout value)
_SUMMARY_METRICS: tuple[tuple[str, str, tuple[str, ...], str | None, bool], ...] = (
    (
        "Dimension-wise probability: Pearson r",
        "↑",
        ("dimension_wise_probability", "pearson_r"),
        None,
        True,
    ),
    ("Dimension-wise probability: RMSE", "↓", ("dimension_wise_probability", "rmse"), None, True),
    (
        "Dimension-wise prediction: mean AUROC",
        "↑",
        ("dimension_wise_prediction", "auroc_synthetic"),
        "auroc_real",
        False,
    ),
    (
        "Dimension-wise prediction: mean F1",
        "↑",
        ("dimension_wise_prediction", "f1_synthetic"),
        "f1_real",
        False,
    ),
    ("Pairwise: correlation MAE", "↓", ("pairwise", "correlation_mae"), None, True),
    ("Pairwise: correlation r", "↑", ("pairwise", "correlation_r"), None, True),
    (
        "Pairwise: co-occurrence relative error",
        "↓",
        ("pairwise", "cooccurrence", "relative_error"),
        None,
        True,
    ),
    ("Marginals: mean TVD (categorical)", "↓", ("marginals", "tvd_mean"), None, True),
    ("Marginals: mean KS (numeric)", "↓", ("marginals", "ks_mean"), None, True),
)


def _tstr_rows(tstr: dict[str, Any], floor: dict[str, Any]) -> list[tuple[str, str, Any, Any, Any, Any]]:
    """The TSTR rows of the summary table (none without a target)."""
    if not tstr:
        return []
    metric = "auroc" if tstr.get("task") == "classification" else "r2"
    rows = [(f"TSTR ({tstr.get('target')}): {metric.upper() if metric == 'auroc' else 'R²'}", metric)]
    if metric == "auroc":
        rows += [("TSTR: accuracy", "accuracy"), ("TSTR: Brier skill (0 = no skill)", "brier_skill")]
    return [
        (
            label,
            "↑",
            tstr.get(f"{key}_synthetic"),
            _get(floor, "tstr", f"{key}_synthetic"),
            tstr.get(f"{key}_real"),
            None,
        )
        for label, key in rows
    ]


def _summary_rows(m: dict[str, Any]) -> list[tuple[str, str, Any, Any, Any, Any]]:
    floor = _get(m, "baselines", "independent_marginals") or {}
    hold = _get(m, "baselines", "holdout") or {}
    out: list[tuple[str, str, Any, Any, Any, Any]] = []
    for label, arrow, path, real_key, has_holdout in _SUMMARY_METRICS:
        real = _get(m, path[0], real_key) if real_key else None
        out.append(
            (
                label,
                arrow,
                _get(m, *path),
                _get(floor, *path),
                real,
                _get(hold, *path) if has_holdout else None,
            )
        )
    out += _tstr_rows(m.get("tstr") or {}, floor)
    if m.get("sdmetrics_quality") is not None:
        out.append(("SDMetrics quality score", "↑", m.get("sdmetrics_quality"), None, None, None))
    return out


def _worse(arrow: str, s: Any, f: Any) -> bool:
    if not isinstance(s, (int, float)) or not isinstance(f, (int, float)):
        return False
    return s < f if arrow == "↑" else s > f


def _summary_table(m: dict[str, Any]) -> Markup:
    header = [
        "metric",
        "",
        "synthetic",
        "independent marginals (floor)",
        "trained on real (ceiling)",
        "real holdout (noise level)",
    ]
    rows, classes = [], []
    for label, arrow, s, f, r, h in _summary_rows(m):
        if s is None:  # nothing measured: no row of dashes
            continue
        bad = _worse(arrow, s, f)
        cell = tag("b", _num(s), class_="bad" if bad else None)
        flag = join([" ", tag("span", "worse than the floor", class_="bad")]) if bad else Markup("")
        rows.append([label, arrow, join([cell, flag]), _num(f), _num(r), _num(h)])
        classes.append("bad" if bad else None)
    return table(header, rows, row_classes=classes)


def _meter(score: Any) -> Markup:
    if not isinstance(score, (int, float)):
        return Markup("—")
    width = f"{100 * float(score):.0f}px"
    bar = Markup(f'<span class="meter-bg"><span class="meter" style="width:{width}"></span></span>')
    return join([bar, f"{float(score):.2f}"])


def _headline(m: dict[str, Any]) -> Markup:
    areas = headline(m)
    if not areas:
        return tag("p", "No metric could be computed.", class_="note")
    rows, classes = [], []
    for area in areas:
        verdict_class = VERDICT_CLASS.get(area["verdict"])
        worst = [r["metric"] for r in area["metrics"] if r["worse_than_floor"]]
        detail = f" ({'; '.join(worst)})" if worst else ""
        rows.append(
            [
                area["area"],
                tag("span", area["verdict"] + detail, class_=verdict_class),
                join([tag("span", _meter(area["score"]))]),
            ]
        )
        classes.append("bad" if verdict_class == "bad" else None)
    intro = tag(
        "p",
        "Where the synthetic table sits, per area, between the independent-marginals floor (0: a column-by-column "
        "resample of the real training table, no dependence learned) and the real data (1). Red: worse than "
        "the floor — a trivial baseline does better there.",
        class_="note",
    )
    header = ["area", "answer", "score (0 floor – 1 real)"]
    return join([intro, table(header, rows, row_classes=classes, class_="headline")])


def _figure(svg: str, caption: str) -> Markup:
    return figure(Markup(svg), caption)


def _plots(m: dict[str, Any]) -> str:
    figs = []
    prob = m.get("dimension_wise_probability") or {}
    if prob.get("codes"):
        svg = scatter_svg(
            prob["real"],
            prob["synthetic"],
            labels=prob["codes"],
            limits=(0.0, max([0.01, *[v for v in prob["real"] + prob["synthetic"] if v is not None]]) * 1.05),
            title="Dimension-wise probability",
            xlabel="prevalence in real train",
            ylabel="prevalence in synthetic",
        )
        figs.append(
            _figure(
                svg,
                f"Per-code prevalence ({len(prob['codes'])} binary codes); "
                f"r = {_num(prob.get('pearson_r'))}.",
            )
        )
    pred = m.get("dimension_wise_prediction") or {}
    per = pred.get("per_code") or {}
    if pred.get("codes") and "auroc_real" in per and "auroc_synthetic" in per:
        svg = scatter_svg(
            per["auroc_real"],
            per["auroc_synthetic"],
            labels=pred["codes"],
            limits=(0.3, 1.0),
            title="Dimension-wise prediction",
            xlabel="AUROC, trained on real",
            ylabel="AUROC, trained on synthetic",
        )
        figs.append(
            _figure(
                svg,
                f"Per-code logistic regression AUROC on the real test table ({len(pred['codes'])} codes).",
            )
        )
    count = m.get("count") or {}
    if count.get("columns"):
        svg = scatter_svg(
            count["real"],
            count["synthetic"],
            labels=count["columns"],
            title="Average count",
            xlabel="mean in real train",
            ylabel="mean in synthetic",
        )
        figs.append(_figure(svg, "Dimension-wise average count."))
    heat = _get(m, "pairwise", "heatmap")
    if heat and heat.get("columns"):
        svg = heatmap_svg(heat["real_minus_synthetic"], heat["columns"], title="Correlation difference")
        figs.append(
            _figure(svg, "Correlation, real minus synthetic, for the most prevalent codes and other columns.")
        )
    marg = m.get("marginals") or {}
    for key, label in (("tvd", "total variation distance"), ("ks", "Kolmogorov–Smirnov distance")):
        values = {k: v for k, v in (marg.get(key) or {}).items() if v is not None}
        if values:
            worst = sorted(values.items(), key=lambda kv: -kv[1])[:20]
            svg = bar_svg([k for k, _ in worst], [v for _, v in worst], title=label)
            figs.append(_figure(svg, f"Largest {label}s per column (0 = identical marginals)."))
    return tag("div", *figs, class_="plots")


def _columns(m: dict[str, Any]) -> Markup:
    cols = m.get("columns") or {}
    kinds = ", ".join(
        f"{k}: {len(cols.get(k) or [])}" for k in ("binary", "count", "categorical", "continuous", "datetime")
    )
    excluded = cols.get("excluded") or {}
    items = [tag("li", f"{k}: {v}") for k, v in excluded.items()]
    ex = (
        join([tag("p", "Excluded columns:"), tag("ul", *items)])
        if items
        else tag("p", "No column was excluded.")
    )
    return join([tag("p", f"Columns ({cols.get('source', '')}): {kinds}."), ex])


def render_html(m: dict[str, Any]) -> str:
    """The whole page for a report dict as produced by :func:`ehrsynth.evaluation.evaluate`."""
    data = m.get("data") or {}
    settings = m.get("settings") or {}
    pred = m.get("dimension_wise_prediction") or {}
    notes = [
        _get(m, "dimension_wise_prediction", "rule"),
        _get(m, "dimension_wise_prediction", "model"),
        m.get("sdmetrics_note"),
        _get(m, "baselines", "note"),
    ]
    skipped = (
        f"Dimension-wise prediction: {_num(pred.get('n_evaluated'))} codes evaluated of the top "
        f"{_num(pred.get('top_k'))}; skipped (constant in train / in test): "
        f"{_num(pred.get('n_skipped_constant_train'))} / {_num(pred.get('n_skipped_constant_test'))}; "
        f"constant in synthetic: {_num(pred.get('n_constant_synthetic'))}."
    )
    facts = (
        f"Rows: train {_num(data.get('n_train'))}, test {_num(data.get('n_test'))}, synthetic "
        f"{_num(data.get('n_synthetic'))}. Top-K codes: {_num(settings.get('top_k'))}; seed "
        f"{_num(settings.get('random_state'))}; ehrsynth {m.get('ehrsynth_version', '')}."
    )
    body = join(
        [
            tag("h1", "Utility evaluation"),
            tag("p", facts),
            tag("h2", "Answer"),
            _headline(m),
            tag("h2", "All metrics"),
            _summary_table(m),
            tag("p", skipped, class_="note"),
            tag("h2", "Plots"),
            _plots(m),
            tag("h2", "Columns"),
            _columns(m),
            tag("h2", "Notes"),
            *(tag("p", n, class_="note") for n in notes if n),
        ]
    )
    return page("ehrsynth utility evaluation", body, style=_STYLE)
