"""The audit report: a JSON document (``to_dict``/``to_json``) and a self-contained HTML page (``to_html``).

JSON shape (``report_format`` 1), abridged::

    {"verdict": "low|medium|high",
     "verdicts": {"membership": ..., "attribute_inference": ..., "singling_out": ...},
     "attacks": {
        "membership": {"auc": .., "auc_ci": [lo, hi], "tpr_at_fpr_0.01": .., "tpr_at_fpr_0.001": ..,
                       "headline_attack": "dcr", "attacks": {"dcr": {...}, "dcr_calibrated": {...},
                       "density_ratio": {...}}, "presence": {...}, ...},
        "attribute_inference": {"attributes": {name: {"knn": {"attack_rate", "control_rate", "risk",
                                "risk_ci"}, "model": {...}}}, ...},
        "singling_out": {"singling_out": {...}, "exact_copies": {...}, "near_copies": {...}}},
     "indicators": [...], "per_record": {"top_train_indexes": [...], ...},
     "inputs": {"train": {"rows": .., "columns": .., "sha256": .., "source": ..}, "holdout": ..., "synthetic": ...},
     "columns": {...}, "parameters": {...}, "thresholds": {...}, "notes": [...], "version": ..}

Non-finite numbers are written as ``null``. The per-record list is in the JSON only, never in the HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ehrsynth.privacy import thresholds as th
from ehrsynth.reporting import Report


class AuditReport(Report):
    """Result of :func:`ehrsynth.privacy.audit`: ``.verdict``, ``.to_dict()``, ``.to_json()``, ``.to_html()``,
    ``.summary()``, ``.save_json()``, ``.save_html()`` (a :class:`ehrsynth.reporting.Report`). ``figures`` holds
    the plot data of the HTML page (ROC curves, distance histogram, attribute bars), not part of the JSON."""

    title = "privacy audit"

    def __init__(self, data: Mapping[str, Any], figures: dict[str, Any] | None = None) -> None:
        super().__init__(data)
        self._figures = figures or {}

    @property
    def verdict(self) -> str:
        """Overall verdict: ``"low"``, ``"medium"`` or ``"high"``."""
        return str(self._data["verdict"])

    @property
    def verdicts(self) -> dict[str, str]:
        """Verdict per attack."""
        return dict(self._data["verdicts"])

    def to_html(self) -> str:
        """A self-contained HTML page: summary, plots, tables, threat model and limitations."""
        import ehrsynth.privacy as package
        from ehrsynth.privacy.html_report import render

        return render(self._data, self._figures, package.__doc__ or "")

    def summary(self) -> list[str]:
        """The plain-language summary, one sentence group per line."""
        from ehrsynth.privacy.html_report import summary_sentences

        return summary_sentences(self._data)

    def fails(self, fail_on: str) -> bool:
        """Whether the verdict is at or above ``fail_on`` (``low``/``medium``/``high``/``never``)."""
        return th.fails(self.verdict, fail_on)

    def __repr__(self) -> str:
        return f"AuditReport(verdict={self.verdict!r}, verdicts={self.verdicts!r})"
