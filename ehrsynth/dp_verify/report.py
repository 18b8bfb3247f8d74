"""The :class:`DPAuditReport` of :func:`ehrsynth.dp_verify.runner.dp_audit` and its HTML page.

A :class:`ehrsynth.reporting.Report`: ``to_dict``/``to_json``/``save_json``/``save_html``/``summary``. The page is
short and self-contained (inline CSS, no scripts); every string from the user is escaped.
"""

from __future__ import annotations

from typing import Any

from ehrsynth.reporting import Report
from ehrsynth.reporting.html import esc as _esc


class DPAuditReport(Report):
    """Result of :func:`~ehrsynth.dp_verify.runner.dp_audit`: ``epsilon_lower_bound``, ``refuted``, ``to_dict``,
    ``to_json``, ``to_html``, ``summary``."""

    title = "DP audit"

    @property
    def epsilon_lower_bound(self) -> float:
        return float(self._data["epsilon_lower_bound"])

    @property
    def epsilon_claimed(self) -> float | None:
        value = self._data["epsilon_claimed"]
        return None if value is None else float(value)

    @property
    def refuted(self) -> bool:
        """Whether ε_LB exceeds the claimed ε (never for a model trained without DP: nothing is claimed)."""
        return bool(self._data["refuted"])

    def summary(self) -> dict[str, Any]:
        """The headline: claimed ε, ε lower bound and its confidence, whether the claim is refuted, and the
        attack that gave the bound."""
        keys = ("epsilon_claimed", "epsilon_lower_bound", "confidence", "refuted", "attack", "attack_auc")
        return {k: self._data.get(k) for k in keys}

    def to_html(self) -> str:
        return render_html(self._data)

    def __repr__(self) -> str:
        return (
            f"DPAuditReport(epsilon_lower_bound={self.epsilon_lower_bound:.3f}, "
            f"epsilon_claimed={self.epsilon_claimed!r}, refuted={self.refuted})"
        )


# -- HTML --------------------------------------------------------------------------------------------------

_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.6em 0}"
    "td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}"
    "th{background:#f5f5f5}.bad{color:#fff;background:#c62828;padding:.1em .5em}"
    ".ok{color:#fff;background:#2e7d32;padding:.1em .5em}"
    ".none{color:#fff;background:#616161;padding:.1em .5em}"
)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _esc(value)


def _ci(pair: list[float] | None) -> str:
    return "n/a" if not pair else f"[{_fmt(pair[0])}, {_fmt(pair[1])}]"


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{_esc(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in pairs)


def render_html(data: dict[str, Any]) -> str:
    """A short self-contained page (inline CSS, no scripts); every string from the user is escaped."""
    eps, lb = data["epsilon_claimed"], data["epsilon_lower_bound"]
    if eps is None:
        badge = '<span class="none">NO DP CLAIM</span>'
    elif data["refuted"]:
        badge = '<span class="bad">CLAIM REFUTED</span>'
    else:
        badge = '<span class="ok">CONSISTENT WITH CLAIM</span>'
    rule = data["best_rule"]
    pairs = [
        ("input", data["input"]["source"] or "(data frame)"),
        ("rows, columns", f"{data['input']['rows']}, {data['input']['columns']}"),
        ("epsilon claimed", "none (trained without DP)" if eps is None else eps),
        ("delta", f"{data['delta']:.3g}"),
        (f"epsilon lower bound ({100 * data['confidence']:g}% confidence)", lb),
        ("canaries per run, runs", f"{data['canaries']}, {data['runs']}"),
        ("best rule", f"{rule['attack']}: {rule['correct']} of {rule['guesses']} guesses correct"),
        ("attack AUC (best rule's attack)", data["attack_auc"]),
    ]
    if "threshold_bound" in data:
        pairs.append(
            (
                "threshold bound (Jagielski et al. 2020; independent trials assumed)",
                data["threshold_bound"]["epsilon_lower_bound"],
            )
        )
    summary = _rows(pairs)
    attacks = "".join(
        f"<tr><td>{_esc(name)}</td><td>{_fmt(a['auc'])}</td><td>{_ci(a['auc_ci'])}</td></tr>"
        for name, a in data["attacks"].items()
    )
    runs = "".join(
        f"<tr><td>{i + 1}</td><td>{_fmt(r['canaries_in'])}</td><td>{_fmt(r['training_rows'])}</td>"
        f"<td>{_fmt(r['epsilon_spent'])}</td><td>{_fmt(r['fit_seconds'], 1)}</td></tr>"
        for i, r in enumerate(data["runs_detail"])
    )
    notes = "".join(f"<li>{_esc(n)}</li>" for n in data["notes"])
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>ehrsynth DP audit</title><style>{_CSS}</style></head><body>"
        f"<h1>Differential privacy audit {badge}</h1><ul>{notes}</ul>"
        f"<table>{summary}</table>"
        "<h2>Attacks</h2><table><tr><th>attack</th><th>AUC</th><th>95% CI</th></tr>"
        f"{attacks}</table>"
        "<h2>Training runs</h2><table><tr><th>run</th><th>canaries in</th><th>training rows</th>"
        f"<th>epsilon spent (accountant)</th><th>fit seconds</th></tr>{runs}</table>"
        f"<h2>Method</h2><p>{_esc(data['method'])}.</p>"
        "<p>A lower bound is only as strong as the attack: a bound below the claim is evidence, not proof, "
        "that the claim holds. Canaries are included with probability 1/2; the schema is declared for every "
        "fit so that DP domain discovery cannot drop the canaries' values.</p></body></html>"
    )
