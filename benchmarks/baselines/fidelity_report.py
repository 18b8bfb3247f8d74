"""The RESULTS.md section of the workload benchmark (benchmarks/fidelity_bench.py): one table per ε."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

COLUMNS = [
    ("tvd_2way_mean", "2-way TVD ↓", ".4f"),
    ("tvd_3way_mean", "3-way TVD ↓", ".4f"),
    ("tvd_1way_mean", "1-way TVD ↓", ".4f"),
    ("ks_mean", "numbers KS ↓", ".3f"),
    ("query_error_2way_max", "max 2-way cell err ↓", ".3f"),
    ("codes_per_row_tvd", "codes/patient TVD ↓", ".3f"),
    ("auroc_synthetic", "dim-wise AUROC ↑", ".3f"),
    ("prevalence_r", "prevalence r ↑", ".3f"),
    ("tstr_auroc_synthetic", "TSTR AUROC ↑", ".3f"),
    ("fit_seconds", "fit s", ".0f"),
    ("peak_rss_mb", "peak MB", ".0f"),
]
REFERENCE_NOTE = {
    "real_holdout": "real test split vs train: a real table's own sampling noise (at the test size); its AUROC "
    "and TSTR are the real-trained ceiling (trained on train, tested on test)",
    "shuffled_train": "train columns shuffled: exact 1-way marginals, no dependence (non-DP floor)",
    "independent_resampled": "independent marginals resampled, as many rows as train (non-DP floor + sampling)",
}
#: the note on ehrsynth rows run without DP (``fidelity_bench.py --no-dp``)
NO_DP_NOTE = (
    "ehrsynth_* (no DP): the same engine fitted to exact statistics (no noise, no row cap): what the model "
    "reaches without noise; the gap to its DP rows is what the noise costs (issue 12: noise vs capacity)"
)


def _value(run: dict[str, Any], key: str) -> Any:
    """A run's metric; the per-column fidelity summary's (``ks_mean``: mean KS distance of the numeric columns)
    sits one level down."""
    return run.get(key, (run.get("fidelity") or {}).get(key))


def _cell(runs: list[dict[str, Any]], key: str, fmt: str) -> str:
    got = [_value(r, key) for r in runs]
    vals = [v for v in got if isinstance(v, (int, float)) and not math.isnan(v)]
    if not vals:
        return "—"
    if len(vals) == 1:
        return format(vals[0], fmt)
    return f"{format(statistics.mean(vals), fmt)} ± {format(statistics.stdev(vals), fmt)}"


def _row(name: str, runs: list[dict[str, Any]]) -> str:
    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok:
        r = runs[-1]
        reason = str(r.get("reason", "")).replace("|", "/").replace("\n", " ")[:160]
        return f"| {name} | {r.get('status')}: {reason} |" + " |" * (len(COLUMNS) - 1)
    cells = [_cell(ok, key, fmt) for key, _, fmt in COLUMNS]
    seeds = f" (n={len(ok)})" if len(ok) > 1 else ""
    return f"| {name}{seeds} | " + " | ".join(cells) + " |"


def _groups(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        out.setdefault(r["method"], []).append(r)
    return out


def _header() -> list[str]:
    return ["| method | " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]


def _notes(runs: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in runs:
        info = r.get("pgm")
        if r.get("status") == "ok" and info:
            keep = {k: v for k, v in info.items() if k != "pairs"}
            lines.append(f"- {r['method']} ε={r['epsilon']:g} seed {r.get('seed')}: `{keep}`")
    return lines


def _boxes(runs: list[dict[str, Any]], result: dict[str, Any]) -> str:
    boxes = sorted({r["timeout_s"] for r in runs if r.get("timeout_s")}) or [result["config"]["timeout_s"]]
    return " / ".join(format(b, "g") for b in boxes)


def render(result: dict[str, Any], json_path: Path) -> str:
    env = result["environment"]
    runs = result["runs"]
    refs = [r for r in runs if r["epsilon"] is None]
    lines = [
        f"## Workload error and fidelity: diabetes {result['rows']:,} patients × "
        f"({result['columns'] - result['n_codes']} + {result['n_codes']} codes) (issues 11, 12)",
        "",
        " then ".join(f"`{c}`" for c in result.get("commands", [result.get("command", "")]))
        + f" — {env['date']}, Python {env['python']}, torch {env['torch']}, "
        f"{env['cpus']} CPUs shared (load average {env['load_average_1min']:.1f} at the last write), "
        f"each method in its own niced process, 1 thread, time box {_boxes(runs, result)} s per run. "
        f"Raw: `{json_path.relative_to(json_path.parents[1])}`.",
        "",
        f"Train {result.get('train_rows')} / test {result.get('test_rows')} patients; every synthetic table "
        "has as many rows as train and is scored against train: TVD = ½‖p − q‖₁ over all "
        "2-way marginals and 1,000 seeded 3-way marginals (numbers in 10 quantile bins of the real column, "
        "missing its own cell; `ehrsynth.evaluation.workload`), max 2-way cell error = the worst single "
        "counting query (fraction of rows); numbers KS = mean Kolmogorov–Smirnov distance of the count and "
        "continuous columns to train (`column_fidelity`: a squeezed or clipped number shows here); dimension-wise AUROC = mean over the top-50 codes of a logistic "
        "regression trained on the table and tested on the real test split; TSTR on `readmitted`. Mean ± sd "
        "over seeds where more than one ran. Data: Strack B. et al. (2014) BioMed Research International "
        "781670, UCI id 296, CC BY 4.0.",
        "",
        "**References (no DP)**",
        "",
        *_header(),
    ]
    for name, group in _groups(refs).items():
        lines.append(_row(f"{name} (no DP)" if name.startswith("ehrsynth") else name, group))
    lines += [""] + [f"- {k}: {v}" for k, v in REFERENCE_NOTE.items()]
    if any(r["method"].startswith("ehrsynth") for r in refs):
        lines.append(f"- {NO_DP_NOTE}")
    for eps in sorted({r["epsilon"] for r in runs if r["epsilon"] is not None}):
        lines += ["", f"**ε = {eps:g}** (δ = {result['config'].get('delta', 0):.1e})", "", *_header()]
        for name, group in _groups([r for r in runs if r["epsilon"] == eps]).items():
            lines.append(_row(name, group))
    notes = _notes(runs)
    if notes:
        lines += [
            "",
            "MST / AIM settings and what they took (mbi 2.0; see baselines/pgm_mechanisms.py):",
            *notes,
        ]
    return "\n".join(lines) + "\n"
