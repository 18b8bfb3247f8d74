"""The result of :func:`ehrsynth.evaluation.evaluate`: a JSON-able dict with HTML rendering (a
:class:`ehrsynth.reporting.Report`)."""

from __future__ import annotations

from typing import Any

from ehrsynth.reporting import Report, jsonable

__all__ = ["EvaluationReport", "jsonable"]


class EvaluationReport(Report):
    """Utility metrics of one synthetic table. ``report["pairwise"]["correlation_mae"]`` reads a value;
    :meth:`headline` gives the per-area answer against the floor and the ceiling."""

    title = "utility evaluation"

    @property
    def metrics(self) -> dict[str, Any]:
        """The report dict (read it; :meth:`to_dict` gives a copy to change)."""
        return self._data

    def summary(self) -> dict[str, float | None]:
        """The headline numbers (synthetic side), flat, for logs and tables."""
        m = self._data
        prob = m.get("dimension_wise_probability") or {}
        pred = m.get("dimension_wise_prediction") or {}
        pair = m.get("pairwise") or {}
        marg = m.get("marginals") or {}
        tstr = m.get("tstr") or {}
        return {
            "probability_pearson_r": prob.get("pearson_r"),
            "probability_rmse": prob.get("rmse"),
            "prediction_auroc_real": pred.get("auroc_real"),
            "prediction_auroc_synthetic": pred.get("auroc_synthetic"),
            "pairwise_correlation_mae": pair.get("correlation_mae"),
            "tvd_mean": marg.get("tvd_mean"),
            "ks_mean": marg.get("ks_mean"),
            "tstr_auroc_real": tstr.get("auroc_real"),
            "tstr_auroc_synthetic": tstr.get("auroc_synthetic"),
            "sdmetrics_quality": m.get("sdmetrics_quality"),
        }

    def headline(self) -> list[dict[str, Any]]:
        """Per area (marginals, dependence, prediction, TSTR): a 0–1 score placing the synthetic table between
        the independent-marginals floor (0) and the real data (1), with a verdict; see
        :func:`ehrsynth.evaluation.headline.headline`."""
        from ehrsynth.evaluation.headline import headline

        return headline(self._data)

    def to_html(self) -> str:
        """A self-contained HTML page (inline SVG plots, no scripts, no external resources)."""
        from ehrsynth.evaluation.html import render_html

        return render_html(self._data)
