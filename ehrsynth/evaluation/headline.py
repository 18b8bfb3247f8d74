"""The answer an evaluation report leads with: per area, where the synthetic table sits between the
**independent-marginals floor** (a column-by-column resample of train: what you get without learning any
dependence) and the **real ceiling** (the real holdout scored as if synthetic for distribution metrics; the
model trained on real data for prediction metrics).

A metric's score is ``(synthetic − floor) / (ceiling − floor)`` clipped to [0, 1] (1: as good as real data),
defined only when the ceiling is better than the floor, and 0 for a metric worse than the floor; an area's
score is the mean of its metrics' scores.
A metric **worse than the floor** is flagged: a trivial baseline does better there. For single-column
metrics the floor has the training marginals by construction, so any distortion of a marginal shows up as
"worse than the floor".
"""

from __future__ import annotations

from typing import Any

#: (area, [(label, path in the report, higher is better, ceiling: "holdout" or the key beside the value)])
AREAS: list[tuple[str, list[tuple[str, tuple[str, ...], bool, str]]]] = [
    (
        "Single columns (marginals)",
        [
            ("mean TVD, categorical columns", ("marginals", "tvd_mean"), False, "holdout"),
            ("mean KS, numeric columns", ("marginals", "ks_mean"), False, "holdout"),
            ("code prevalence RMSE", ("dimension_wise_probability", "rmse"), False, "holdout"),
        ],
    ),
    (
        "Pairs of columns (dependence)",
        [
            ("correlation MAE", ("pairwise", "correlation_mae"), False, "holdout"),
            (
                "co-occurrence relative error",
                ("pairwise", "cooccurrence", "relative_error"),
                False,
                "holdout",
            ),
        ],
    ),
    (
        "Predicting each code from the others",
        [("mean AUROC", ("dimension_wise_prediction", "auroc_synthetic"), True, "auroc_real")],
    ),
]
GOOD_SCORE = 0.8


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def _metric(label: str, higher: bool, s: Any, f: Any, c: Any) -> dict[str, Any] | None:
    if s is None:
        return None
    worse = f is not None and (s < f if higher else s > f)
    score = 0.0 if worse else None
    if not worse and f is not None and c is not None and (c > f if higher else c < f):
        score = min(1.0, max(0.0, (s - f) / (c - f)))
    return {
        "metric": label,
        "higher_is_better": higher,
        "synthetic": s,
        "floor": f,
        "ceiling": c,
        "score": score,
        "worse_than_floor": bool(worse),
    }


def _tstr(m: dict[str, Any]) -> tuple[str, list[tuple[str, tuple[str, ...], bool, str]]] | None:
    tstr = m.get("tstr")
    if not isinstance(tstr, dict):
        return None
    key = "auroc" if tstr.get("task") == "classification" else "r2"
    label = f"{'AUROC' if key == 'auroc' else 'R²'} for {tstr.get('target')}"
    return "Train on synthetic, test on real (TSTR)", [
        (label, ("tstr", f"{key}_synthetic"), True, f"{key}_real")
    ]


def headline(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Per area: ``{"area", "score" (0–1 or None), "verdict", "metrics": [...]}`` (areas without numbers are
    left out). Verdicts: ``"worse than the floor"``, ``"close to the real data"`` (score ≥ 0.8),
    ``"between the floor and the real data"``, ``"no reference"`` (no baselines)."""
    floor = _get_dict(m, "baselines", "independent_marginals")
    holdout = _get_dict(m, "baselines", "holdout")
    areas = list(AREAS)
    extra = _tstr(m)
    if extra:
        areas.append(extra)
    out = []
    for area, specs in areas:
        metrics = []
        for label, path, higher, ceiling in specs:
            c = _get(holdout, *path) if ceiling == "holdout" else _get(m, *path[:-1], ceiling)
            row = _metric(label, higher, _get(m, *path), _get(floor, *path), c)
            if row is not None:
                metrics.append(row)
        if metrics:
            out.append({"area": area, **_verdict(metrics), "metrics": metrics})
    return out


def _get_dict(m: dict[str, Any], *path: str) -> dict[str, Any]:
    d: Any = m
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    return d if isinstance(d, dict) else {}


def _verdict(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [r["score"] for r in metrics if r["score"] is not None]
    score = sum(scores) / len(scores) if scores else None
    if any(r["worse_than_floor"] for r in metrics):
        verdict = "worse than the floor"
    elif all(r["floor"] is None for r in metrics):
        verdict = "no reference"
    elif score is None or score >= GOOD_SCORE:
        verdict = "close to the real data"
    else:
        verdict = "between the floor and the real data"
    return {"score": score, "verdict": verdict}
