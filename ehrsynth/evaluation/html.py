"""Render an evaluation report dict as one self-contained HTML page (inline SVG, no scripts).

Every string that comes from the data or the user (column names, categories, notes) goes through
:func:`html.escape`.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from ehrsynth.evaluation.svg import bar_svg, heatmap_svg, scatter_svg

_STYLE = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:24px}
figure{margin:0}figcaption{font-size:12px;color:#555;max-width:360px}.note{color:#555;font-size:13px}
"""


def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "—"
    if isinstance(v, (int, float)) and math.isfinite(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    return escape(str(v))


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _summary_rows(m: dict[str, Any]) -> list[tuple[str, str, Any, Any, Any, Any]]:
    floor = _get(m, "baselines", "independent_marginals") or {}
    hold = _get(m, "baselines", "holdout") or {}
    tstr = m.get("tstr") or {}
    rows = [
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
    ]
    out: list[tuple[str, str, Any, Any, Any, Any]] = []
    for label, arrow, path, real_key, has_holdout in rows:
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
    if tstr:
        metric = "auroc" if tstr.get("task") == "classification" else "r2"
        label = f"TSTR ({tstr.get('target')}): {metric.upper() if metric == 'auroc' else 'R²'}"
        out.append(
            (
                label,
                "↑",
                tstr.get(f"{metric}_synthetic"),
                _get(floor, "tstr", f"{metric}_synthetic"),
                tstr.get(f"{metric}_real"),
                None,
            )
        )
        if metric == "auroc":
            for key, label in (("accuracy", "accuracy"), ("brier_skill", "Brier skill (0 = no skill)")):
                out.append(
                    (
                        f"TSTR: {label}",
                        "↑",
                        tstr.get(f"{key}_synthetic"),
                        _get(floor, "tstr", f"{key}_synthetic"),
                        tstr.get(f"{key}_real"),
                        None,
                    )
                )
    out.append(("SDMetrics quality score", "↑", m.get("sdmetrics_quality"), None, None, None))
    return out


def _summary_table(m: dict[str, Any]) -> str:
    head = (
        "<tr><th>metric</th><th></th><th>synthetic</th><th>independent marginals (floor)</th>"
        "<th>trained on real (ceiling)</th><th>real holdout (noise level)</th></tr>"
    )
    body = "".join(
        f"<tr><td>{escape(label)}</td><td>{arrow}</td><td><b>{_num(s)}</b></td><td>{_num(f)}</td><td>{_num(r)}</td>"
        f"<td>{_num(h)}</td></tr>"
        for label, arrow, s, f, r, h in _summary_rows(m)
    )
    return f"<table>{head}{body}</table>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


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
    return f'<div class="plots">{"".join(figs)}</div>'


def _columns(m: dict[str, Any]) -> str:
    cols = m.get("columns") or {}
    kinds = ", ".join(
        f"{escape(k)}: {len(cols.get(k) or [])}"
        for k in ("binary", "count", "categorical", "continuous", "datetime")
    )
    excluded = cols.get("excluded") or {}
    items = "".join(f"<li>{escape(str(k))}: {escape(str(v))}</li>" for k, v in excluded.items())
    ex = f"<p>Excluded columns:</p><ul>{items}</ul>" if items else "<p>No column was excluded.</p>"
    return f"<p>Columns ({escape(str(cols.get('source', '')))}): {kinds}.</p>{ex}"


def render_html(m: dict[str, Any]) -> str:
    """The whole page for a report dict as produced by :func:`ehrsynth.evaluation.evaluate`."""
    data = m.get("data") or {}
    settings = m.get("settings") or {}
    notes = [
        _get(m, "dimension_wise_prediction", "rule"),
        _get(m, "dimension_wise_prediction", "model"),
        m.get("sdmetrics_note"),
        _get(m, "baselines", "note"),
    ]
    pred = m.get("dimension_wise_prediction") or {}
    skipped = (
        f"Dimension-wise prediction: {_num(pred.get('n_evaluated'))} codes evaluated of the top "
        f"{_num(pred.get('top_k'))}; skipped (constant in train / in test): "
        f"{_num(pred.get('n_skipped_constant_train'))} / {_num(pred.get('n_skipped_constant_test'))}; "
        f"constant in synthetic: {_num(pred.get('n_constant_synthetic'))}."
    )
    note_html = "".join(f'<p class="note">{escape(str(n))}</p>' for n in notes if n)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>ehrsynth utility evaluation</title><style>{_STYLE}</style></head><body>"
        "<h1>Utility evaluation</h1>"
        f"<p>Rows: train {_num(data.get('n_train'))}, test {_num(data.get('n_test'))}, synthetic "
        f"{_num(data.get('n_synthetic'))}. Top-K codes: {_num(settings.get('top_k'))}; seed "
        f"{_num(settings.get('random_state'))}; ehrsynth {escape(str(m.get('ehrsynth_version', '')))}.</p>"
        f'<h2>Summary</h2>{_summary_table(m)}<p class="note">{escape(skipped)}</p>'
        f"<h2>Plots</h2>{_plots(m)}<h2>Columns</h2>{_columns(m)}<h2>Notes</h2>{note_html}"
        "</body></html>"
    )
