"""Self-contained HTML rendering of an audit report: inline CSS and SVG, no scripts, no external assets.

Every string that can come from the user (file names, column names, attribute labels, notes) goes through
:func:`ehrsynth.reporting.html.esc` (the escaping every report shares); numbers are formatted here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ehrsynth.privacy import svg
from ehrsynth.privacy import thresholds as th
from ehrsynth.reporting.html import esc

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #ddd;padding:.25em .55em;
text-align:left}th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.15em .6em;border-radius:4px;color:#fff;font-weight:bold;text-transform:uppercase}
.low{background:#2e7d32}.medium{background:#ef6c00}.high{background:#c62828}.inconclusive{background:#757575}
.note{background:#fff8e1;border-left:4px solid #ffb300;padding:.4em .8em;margin:.5em 0}
.figs{display:flex;flex-wrap:wrap;gap:1em}.small{color:#666;font-size:.85em}pre{white-space:pre-wrap}
"""


def e(text: object) -> str:
    """Escape any value for HTML text or attribute context (:func:`ehrsynth.reporting.html.esc`)."""
    return str(esc(text))


def num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, (int, float)):
        text = f"{v:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"
    return e(v)


def ci(pair: Sequence[Any] | None, digits: int = 3) -> str:
    if not pair:
        return "n/a"
    return f"[{num(pair[0], digits)}, {num(pair[1], digits)}]"


def pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{100 * float(v):.1f}%"


def badge(level: str) -> str:
    level = level if level in th.LABELS else "low"
    return f'<span class="badge {level}">{level}</span>'


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``header`` and ``rows`` must already be escaped/formatted HTML fragments."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary_sentences(data: dict[str, Any]) -> list[str]:
    """A plain-language summary (plain text; escape before putting it in HTML)."""
    verdict = data["verdict"]
    lead = {
        "high": "HIGH risk: at least one attack succeeds on training records significantly more often than on "
        f"holdout records, by at least the {th.GUIDANCE_RISK:g} guidance level. Do not release this synthetic "
        "table as it is.",
        "medium": "MEDIUM risk: at least one attack shows a significant excess over the holdout control, below the "
        f"{th.GUIDANCE_RISK:g} guidance level. Review the details before release.",
        "low": "LOW risk: no attack found a significant excess risk for training records over the holdout "
        "control. This is evidence at this sample size, not a guarantee.",
    }[verdict]
    out = [lead]
    unsure = [i for i in data.get("indicators", []) if i.get("label") == "inconclusive"]
    if unsure:
        out.append(
            f"Inconclusive: {len(unsure)} indicator(s) cannot be confirmed low with these records (e.g. "
            f"{unsure[0]['attack']} / {unsure[0]['name']}: {unsure[0]['value']:.3f}, 95% CI "
            f"{unsure[0]['ci'][0]:.3f} to {unsure[0]['ci'][1]:.3f}); a larger holdout narrows them."
        )
    attacks = data["attacks"]
    m = attacks["membership"]
    out.append(
        f"Membership: the strongest attack ({m['headline_attack']}) ranks a training record above a holdout record "
        f"with AUC {m['auc']:.3f} (95% CI {m['auc_ci'][0]:.3f} to {m['auc_ci'][1]:.3f}; 0.5 is guessing); at a 1% "
        f"false-positive rate it flags {pct(m['tpr_at_fpr_0.01'])} of training records."
    )
    s = attacks["singling_out"]
    ex = s["exact_copies"]
    out.append(
        f"Copies: {pct(ex['attack_rate'])} of training records appear verbatim in the synthetic table, against "
        f"{pct(ex['control_rate'])} of holdout records."
    )
    so = s.get("singling_out", {})
    if "attack_rate" in so:
        out.append(
            f"Singling out: {pct(so['attack_rate'])} ({so['attack_count']} of {so['attack_n']}) of "
            "quasi-identifier combinations unique to one training record appear in the synthetic table, against "
            f"{pct(so['control_rate'])} ({so['control_count']} of {so['control_n']}) for holdout-unique ones."
        )
    cd = attacks.get("column_disclosure", {})
    if cd.get("columns"):
        from ehrsynth.privacy.attacks.column_disclosure import describe_top

        out.append("Column disclosure (values copied column by column): " + "; ".join(describe_top(cd)) + ".")
    a = attacks["attribute_inference"]
    if a.get("attributes"):
        worst = max(
            ((name, atk, r) for name, per in a["attributes"].items() for atk, r in per.items()),
            key=lambda t: t[2]["risk"],
        )
        out.append(
            f"Attribute inference: the largest excess risk is {worst[2]['risk']:.3f} "
            f"(95% CI {worst[2]['risk_ci'][0]:.3f} to {worst[2]['risk_ci'][1]:.3f}) for {worst[0]} "
            f"({worst[1]} attack)."
        )
    return out


def _membership_section(data: dict[str, Any], figures: dict[str, Any]) -> str:
    m = data["attacks"]["membership"]
    rows = [
        [
            e(name),
            f'<span class="num">{num(r["auc"])}</span> {ci(r["auc_ci"])}',
            f"{num(r['tpr_at_fpr_0.01'])} {ci(r['tpr_at_fpr_0.01_ci'])}",
            f"{num(r['tpr_at_fpr_0.001'])} {ci(r['tpr_at_fpr_0.001_ci'])}",
        ]
        for name, r in m["attacks"].items()
    ]
    parts = [
        f"<h2>Membership inference {badge(m['verdict'])}</h2>",
        f"<p>{m['n_members']} training records (members) against {m['n_nonmembers']} holdout records "
        f"(non-members). Strongest attack: <b>{e(m['headline_attack'])}</b>.</p>",
        table(["attack", "AUC [95% CI]", "TPR at FPR 1%", "TPR at FPR 0.1%"], rows),
    ]
    figs = []
    if figures.get("roc"):
        figs.append(svg.roc_chart(figures["roc"]))
    hist = figures.get("dcr_histogram")
    if hist:
        figs.append(
            svg.histogram_chart(
                hist["edges"],
                {"training records": hist["members"], "holdout records": hist["nonmembers"]},
                "Distance to closest synthetic record",
                "distance (column units; Hamming on 0/1 codes)",
            )
        )
    if figs:
        parts.append('<div class="figs">' + "".join(figs) + "</div>")
    pres = m["presence"]["thresholds"]
    parts.append("<h3>Presence disclosure (medGAN protocol)</h3>")
    parts.append(f"<p>{e(m['presence']['protocol'])}; precision at a 50% prior.</p>")
    parts.append(
        table(
            ["h", "sensitivity [95% CI]", "false-positive rate", "precision"],
            [
                [
                    num(r["h"], 0),
                    f"{num(r['sensitivity'])} {ci(r['sensitivity_ci'])}",
                    num(r["false_positive_rate"]),
                    num(r["precision"]),
                ]
                for r in pres
            ],
        )
    )
    return "\n".join(parts)


def _attribute_section(data: dict[str, Any], figures: dict[str, Any]) -> str:
    a = data["attacks"]["attribute_inference"]
    parts = [f"<h2>Attribute inference {badge(a['verdict'])}</h2>"]
    if a.get("skipped"):
        parts.append(f"<p>Skipped: {e(a['skipped'])}.</p>")
        return "\n".join(parts)
    parts.append(
        f"<p>Quasi-identifiers: {e(', '.join(a['quasi_identifiers']))}. Nearest neighbours: k = {a['k']}.</p>"
    )
    rows = []
    for name, per in a["attributes"].items():
        for atk, r in per.items():
            rows.append(
                [
                    e(name),
                    e(atk),
                    num(r["attack_rate"]),
                    num(r["control_rate"]),
                    f"{num(r['risk'])} {ci(r['risk_ci'])}",
                ]
            )
    parts.append(
        table(
            ["sensitive attribute", "attack", "success on train", "success on holdout", "risk [95% CI]"], rows
        )
    )
    bars = figures.get("attribute_bars")
    if bars:
        levels = {
            i["name"]: i.get("label", i["level"])
            for i in data["indicators"]
            if i["attack"] == "attribute_inference"
        }
        bars = [{**b, "level": levels.get(b.get("indicator", ""), "low")} for b in bars]
        parts.append(
            svg.risk_bars(
                bars, th.GUIDANCE_RISK, "Attribute-inference excess risk (colour: label; grey = inconclusive)"
            )
        )
    return "\n".join(parts)


def _singling_section(data: dict[str, Any]) -> str:
    s = data["attacks"]["singling_out"]
    parts = [f"<h2>Singling out and copies {badge(s['verdict'])}</h2>"]
    rows = []
    for key, label in (
        ("singling_out", "singling out"),
        ("exact_copies", "exact copies"),
        ("near_copies", "near copies"),
    ):
        r = s.get(key)
        if not r:
            continue
        if "skipped" in r:
            rows.append([e(label), "n/a", "n/a", e(r["skipped"])])
            continue
        rows.append(
            [e(label), pct(r["attack_rate"]), pct(r["control_rate"]), f"{num(r['risk'])} {ci(r['risk_ci'])}"]
        )
    parts.append(table(["check", "training records", "holdout records", "risk [95% CI]"], rows))
    near = s.get("near_copies", {})
    parts.append(
        f'<p class="small">Near copy: distance to the closest synthetic record at most {num(near.get("distance"), 2)}'
        " column units. Singling out compares quantile-binned quasi-identifiers.</p>"
    )
    return "\n".join(parts)


def _column_section(data: dict[str, Any]) -> str:
    c = data["attacks"].get("column_disclosure")
    if c is None:
        return ""
    parts = [f"<h2>Column disclosure {badge(c['verdict'])}</h2>"]
    if c.get("skipped"):
        parts.append(f"<p>Skipped: {e(c['skipped'])}.</p>")
    rows = [
        [
            e(name),
            e(r.get("identifier_like") or ""),
            f"{r['member_only_in_synthetic']} / {r['member_only']}",
            f"{r['nonmember_only_in_synthetic']} / {r['nonmember_only']}",
            f"{r['member_singletons_in_synthetic']} / {r['member_singletons']}",
            f"{num(r['risk'])} {ci(r['risk_ci'])}",
        ]
        for name, r in c.get("columns", {}).items()
    ]
    if rows:
        parts.append(
            table(
                [
                    "column",
                    "identifier-like",
                    "training-only values in synthetic",
                    "holdout-only values in synthetic",
                    "of which held by one training record",
                    "risk [95% CI]",
                ],
                rows,
            )
        )
    parts.append(
        f'<p class="small">Equal sets of {c["set_size"]} training and holdout rows; values are never shown.</p>'
    )
    return "\n".join(parts)


def _indicator_section(data: dict[str, Any]) -> str:
    rows = [
        [
            e(i["attack"]),
            e(i["name"]),
            num(i["value"]),
            ci(i["ci"]),
            num(i["test_lower"], 4),
            badge(i.get("label", i["level"])),
        ]
        for i in data["indicators"]
    ]
    t = data["thresholds"]
    return "\n".join(
        [
            "<h2>How the verdict was reached</h2>",
            f"<p>{e(t['rule'])}. Guidance: {e(t['guidance'])}. The last-but-one column is a one-sided lower "
            "confidence bound of the excess of training over holdout records (difference of rates, AUC - 0.5 or "
            f"TPR - FPR) at family-wise level {num(t['family_alpha'], 2)} (Bonferroni over {len(rows)} "
            "indicators); above zero means significant.</p>",
            table(["attack", "indicator", "estimate", "95% CI", "excess lower bound", "level"], rows),
        ]
    )


def doc_to_html(doc: str) -> str:
    """Paragraphs of a reStructuredText-flavoured docstring as HTML (escaped first, then light markup)."""
    out = []
    for para in doc.strip().split("\n\n"):
        text = e(" ".join(line.strip() for line in para.splitlines()))
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        text = re.sub(r"``(.+?)``", r"<code>\1</code>", text)
        text = re.sub(r"(?<![*\w])\*(\w[^*]*?)\*(?![*\w])", r"<i>\1</i>", text)
        text = re.sub(r":(?:func|mod|class|data|meth):`~?([^`]+)`", r"<code>\1</code>", text)
        out.append(f"<p>{text}</p>")
    return "".join(out)


def render(data: dict[str, Any], figures: dict[str, Any], threat_model: str) -> str:
    """The whole report as one HTML document."""
    inputs = data["inputs"]
    input_rows = [
        [e(role), e(d["source"]), str(d["rows"]), str(d["columns"]), f"<code>{e(d['sha256'])}</code>"]
        for role, d in inputs.items()
    ]
    cols = data["columns"]
    dropped = cols.get("dropped_identifiers", [])
    notes = "".join(f'<div class="note">{e(n)}</div>' for n in data.get("notes", []))
    summary = "".join(f"<p>{e(s)}</p>" for s in summary_sentences(data))
    params = data["parameters"]
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
        "<title>ehrsynth privacy audit</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Privacy audit {badge(data['verdict'])}</h1>",
        f'<p class="small">ehrsynth {e(data["version"])} &middot; random_state {e(params["random_state"])} '
        f"&middot; {e(params['members'])}</p>",
        "<h2>Summary</h2>",
        summary,
        notes,
        "<h2>Inputs</h2>",
        table(["table", "source", "rows", "columns", "sha256"], input_rows),
        f"<p>Column kinds ({e(cols['source'])}): "
        + ", ".join(f"{e(k)}: {v}" for k, v in cols["counts"].items())
        + (
            ". Dropped identifier-like columns: " + ", ".join(e(d["name"]) for d in dropped)
            if dropped
            else ". No identifier-like column was dropped"
        )
        + ".</p>",
        _membership_section(data, figures),
        _attribute_section(data, figures),
        _singling_section(data),
        _column_section(data),
        _indicator_section(data),
        "<h2>Threat model and limitations</h2>",
        doc_to_html(threat_model),
        "</body></html>",
    ]
    return "\n".join(body)
