"""Wall time of ``ehrsynth.evaluation.evaluate`` on diabetes patient × code tables (train vs a shuffled copy).

Two measurements, each a full ``evaluate(train, test, column_shuffled(train), target="readmitted")`` with the
default top-K 100 and baselines on:

1. ``diabetes-20k``: 20,000 patients of the diabetes patient table (``ehrsynth.datasets.diabetes130_patient_table``:
   first-encounter demographics, 3-digit ICD-9 indicators of diag_1..3 over all encounters; codes no training
   patient has are dropped) as train, 10,000 other patients as test.
2. ``scale-40k-1k``: a 50,000 × 1,000-code table resampled from the same template
   (``benchmarks/scale_data.make_scale_table``), split 40,000 train / 10,000 test — the size the issue sets for
   "100 codes × 2 fits well under a minute on 2 cores".

Each runs with ``n_jobs`` 1 and 2. The machine's load average is recorded: on a shared machine the times
include other jobs' contention. Data: Diabetes 130-US hospitals (Strack et al. 2014, BioMed Research
International 781670; UCI id 296, CC BY 4.0), read in place from ../shared/data and never saved.

    .venv/bin/python benchmarks/evaluate_speed.py            # both tables (~5-10 minutes on 2 cores)
    .venv/bin/python benchmarks/evaluate_speed.py --quick    # 4k patients, smoke run

Writes ``benchmarks/results/evaluate_speed.json`` and ``benchmarks/results_evaluate_speed.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import HERE, SHARED_DATA
from scale_data import make_scale_table

import ehrsynth
from ehrsynth.datasets import diabetes130_patient_table
from ehrsynth.evaluation import column_shuffled, evaluate

DATA = SHARED_DATA / "diabetes130" / "diabetic_data_dev.csv.gz"
JSON_OUT = HERE / "results" / "evaluate_speed.json"
MD_OUT = HERE / "results_evaluate_speed.md"
CITATION = (
    "Diabetes 130-US hospitals 1999–2008 (Strack B. et al. 2014, BioMed Research International 781670; "
    "UCI ML Repository id 296, CC BY 4.0)"
)


def split(table: pd.DataFrame, n_train: int, n_test: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(table))
    train = table.iloc[order[:n_train]].reset_index(drop=True)
    test = table.iloc[order[n_train : n_train + n_test]].reset_index(drop=True)
    codes = [c for c in table.columns if c.startswith("dx_")]
    absent = [c for c in codes if train[c].sum() == 0]
    return train.drop(columns=absent), test.drop(columns=absent)


def headline(report: dict[str, Any]) -> dict[str, Any]:
    floor = report["baselines"]["independent_marginals"]
    hold = report["baselines"]["holdout"]
    return {
        "probability_pearson_r": report["dimension_wise_probability"]["pearson_r"],
        "prediction_auroc_real": report["dimension_wise_prediction"]["auroc_real"],
        "prediction_auroc_synthetic": report["dimension_wise_prediction"]["auroc_synthetic"],
        "prediction_auroc_floor": floor["dimension_wise_prediction"]["auroc_synthetic"],
        "n_codes_evaluated": report["dimension_wise_prediction"]["n_evaluated"],
        "n_not_converged": report["dimension_wise_prediction"]["n_not_converged"],
        "correlation_mae": report["pairwise"]["correlation_mae"],
        "correlation_mae_floor": floor["pairwise"]["correlation_mae"],
        "correlation_mae_holdout": hold["pairwise"]["correlation_mae"],
        "correlation_r": report["pairwise"]["correlation_r"],
        "correlation_r_holdout": hold["pairwise"]["correlation_r"],
        "tstr_auroc_real": report["tstr"]["auroc_real"],
        "tstr_auroc_synthetic": report["tstr"]["auroc_synthetic"],
        "tstr_brier_skill_synthetic": report["tstr"]["brier_skill_synthetic"],
    }


def run_one(name: str, train: pd.DataFrame, test: pd.DataFrame, n_jobs: int) -> dict[str, Any]:
    synthetic = column_shuffled(train, random_state=1)
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    report = evaluate(train, test, synthetic, target="readmitted", top_k=100, random_state=0, n_jobs=n_jobs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    d = report.to_dict()
    row = {
        "table": name,
        "n_train": len(train),
        "n_test": len(test),
        "n_columns": train.shape[1],
        "n_encoded_features": d["data"]["n_encoded_features"],
        "n_jobs": n_jobs,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "sections_s": d["timing_s"],
        "sections_cpu_s": d["cpu_time_s"],
        "load_avg_1min_before": round(load_before, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "metrics": headline(d),
    }
    print(
        f"{name}: {len(train)} x {train.shape[1]} train, {len(test)} test, n_jobs={n_jobs}: {wall:.1f} s, "
        f"{cpu:.1f} s CPU (dimension-wise prediction {d['timing_s']['dimension-wise prediction']:.1f} s, "
        f"{d['cpu_time_s']['dimension-wise prediction']:.1f} s CPU; load "
        f"{load_before:.1f} -> {row['load_avg_1min_after']:.1f})",
        flush=True,
    )
    return row


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Utility evaluation speed (`ehrsynth.evaluation.evaluate`)",
        "",
        f"Measured {result['date']} on {result['cpus']} CPU cores shared with other jobs (1-minute load average "
        "in the table: above 2 means contention, so wall times are upper bounds; CPU seconds, summed over "
        "threads, are the figure that transfers: on an idle machine wall ≈ CPU / n_jobs for the model fits), "
        f"Python {result['python']}, "
        f"scikit-learn {result['sklearn']}; command: `{result['command']}`. Synthetic = a column-shuffled copy "
        "of train; target `readmitted`; top-K 100; baselines on (independent-marginals floor refits the 100 "
        f"codes). Data: {CITATION}, read in place.",
        "",
        "| table | train × columns | test | n_jobs | total s (CPU s) | dim-wise prediction s (CPU s) "
        "| TSTR s (CPU s) | baselines s (CPU s) | load before/after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        s, c = r["sections_s"], r["sections_cpu_s"]
        pred = "dimension-wise prediction"
        lines.append(
            f"| {r['table']} | {r['n_train']:,} × {r['n_columns']} | {r['n_test']:,} | {r['n_jobs']} "
            f"| {r['wall_s']:.1f} ({r['cpu_s']:.1f}) | {s[pred]:.1f} ({c[pred]:.1f}) "
            f"| {s['tstr']:.1f} ({c['tstr']:.1f}) | {s['baselines']:.1f} ({c['baselines']:.1f}) "
            f"| {r['load_avg_1min_before']:.1f} / {r['load_avg_1min_after']:.1f} |"
        )
    lines += [
        "",
        "Scores of the shuffled copy (marginals exact, dependence destroyed) beside the references:",
        "",
        "| table | prob. r | pred. AUROC real / shuffled / floor | corr. MAE shuffled / floor / holdout "
        "| corr. r shuffled / holdout | TSTR AUROC real / shuffled | TSTR Brier skill shuffled |",
        "|---|---|---|---|---|---|---|",
    ]
    seen = set()
    for r in result["runs"]:
        if r["table"] in seen:
            continue
        seen.add(r["table"])
        m = r["metrics"]
        lines.append(
            f"| {r['table']} | {m['probability_pearson_r']:.3f} | {m['prediction_auroc_real']:.3f} / "
            f"{m['prediction_auroc_synthetic']:.3f} / {m['prediction_auroc_floor']:.3f} | "
            f"{m['correlation_mae']:.4f} / {m['correlation_mae_floor']:.4f} / {m['correlation_mae_holdout']:.4f} | "
            f"{m['correlation_r']:.3f} / {m['correlation_r_holdout']:.3f} | {m['tstr_auroc_real']:.3f} / "
            f"{m['tstr_auroc_synthetic']:.3f} | {m['tstr_brier_skill_synthetic']:.3f} |"
        )
    lines += ["", f"JSON: `results/{JSON_OUT.name}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4k train / 2k test diabetes patients only")
    ap.add_argument("--n-jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    if not DATA.is_file():
        print(f"data {DATA} not found (../shared/data)", file=sys.stderr)
        return 2
    import sklearn

    t0 = time.perf_counter()
    patients = diabetes130_patient_table(DATA)
    print(f"diabetes patient table: {patients.shape} in {time.perf_counter() - t0:.1f} s", flush=True)
    tables: list[tuple[str, pd.DataFrame, pd.DataFrame]] = []
    if args.quick:
        tables.append(("diabetes-4k", *split(patients, 4_000, 2_000, seed=0)))
    else:
        tables.append(("diabetes-20k", *split(patients, 20_000, 10_000, seed=0)))
        scale = make_scale_table(patients, 50_000, 1_000, random_state=0)
        tables.append(("scale-40k-1k", *split(scale, 40_000, 10_000, seed=0)))
    runs = [run_one(name, train, test, n_jobs) for name, train, test in tables for n_jobs in args.n_jobs]
    result = {
        "benchmark": "evaluate_speed",
        "date": dt.date.today().isoformat(),
        "command": "python benchmarks/evaluate_speed.py" + (" --quick" if args.quick else ""),
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "ehrsynth": ehrsynth.__version__,
        "cpus": os.cpu_count(),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "data": CITATION,
        "runs": runs,
    }
    JSON_OUT.parent.mkdir(exist_ok=True)
    JSON_OUT.write_text(json.dumps(result, indent=2) + "\n")
    MD_OUT.write_text(markdown(result))
    print(f"wrote {JSON_OUT.relative_to(HERE.parent)} and {MD_OUT.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
