"""Issue 12: the two engines side by side on the user path (``ehrsynth.synthesize(df, engine=...)``, no schema).

Diabetes 130-US hospitals (Strack et al. 2014, CC BY 4.0), one row per patient: race, gender, age band,
readmitted + the 200 most frequent 3-digit ICD-9 codes; ``--rows`` training patients and as many held-out
patients. Per engine and ε: mean dimension-wise prediction AUROC over the top-50 codes (logistic regression
trained on synthetic, tested on held-out real; ``ehrsynth.evaluation``), TSTR AUROC on readmission, per-code
prevalence r, mean 2-way TVD over the codes' pairs next to the independent-marginals floor, fit seconds.

    python benchmarks/engine_bench.py --epsilons 1 3 none --engines dpsgd measure
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _results import SHARED_DATA, environment, save_json, update_section

import ehrsynth


def load(rows: int, seed: int, data: Path = SHARED_DATA) -> tuple[pd.DataFrame, pd.DataFrame]:
    from ehrsynth.datasets.diabetes130 import diabetes130_patient_table

    table = diabetes130_patient_table(data / "diabetes130" / "diabetic_data_dev.csv.gz")
    codes = [c for c in table.columns if c.startswith("dx_")]
    top = table[codes].sum().sort_values(ascending=False).index[:200]
    table = table[["race", "gender", "age", "readmitted", *sorted(top)]]
    order = np.random.default_rng(seed).permutation(len(table))
    return (
        table.iloc[order[:rows]].reset_index(drop=True),
        table.iloc[order[rows : 2 * rows]].reset_index(drop=True),
    )


def code_pair_tvd(real: pd.DataFrame, synth: pd.DataFrame, k: int = 50) -> float:
    """Mean TVD of the 2×2 tables of every pair of the k most prevalent codes."""
    codes = real.filter(like="dx_").mean().sort_values(ascending=False).index[:k]
    a, b = real[codes].to_numpy(float), synth[codes].to_numpy(float)
    out = []
    for x in (a, b):
        n = len(x)
        both = x.T @ x / n
        p = np.diag(both)
        out.append(np.stack([both, p[:, None] - both, p[None, :] - both, 1 - p[:, None] - p[None, :] + both]))
    tvd = 0.5 * np.abs(out[0] - out[1]).sum(axis=0)
    return float(tvd[np.triu_indices(len(codes), 1)].mean())


def run(train: pd.DataFrame, test: pd.DataFrame, engine: str, eps: float | None, seed: int) -> dict[str, Any]:
    from ehrsynth.evaluation import evaluate

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth = ehrsynth.synthesize(train, epsilon=eps, engine=engine, random_state=seed)
    fit_s = time.perf_counter() - t0
    report = evaluate(train, test, synth, target="readmitted", top_k=50, random_state=seed, baselines=False)
    d = report.to_dict()
    pred = d.get("dimension_wise_prediction") or {}
    codes = train.filter(like="dx_").columns
    r = float(np.corrcoef(train[codes].mean(), synth[codes].astype(float).mean())[0, 1])
    shuffled = pd.DataFrame(
        {c: train[c].sample(frac=1, random_state=i).to_numpy() for i, c in enumerate(codes)}
    )
    return {
        "engine": engine, "epsilon": eps, "fit_s": round(fit_s, 1),
        "auroc_synthetic": pred.get("auroc_synthetic"), "auroc_real": pred.get("auroc_real"),
        "tstr_auroc": (d.get("tstr") or {}).get("auroc_synthetic"),
        "tstr_auroc_real": (d.get("tstr") or {}).get("auroc_real"), "prevalence_r": r,
        "code_pair_tvd": code_pair_tvd(train, synth), "code_pair_tvd_independent": code_pair_tvd(train, shuffled),
        "epsilon_spent": synth.attrs["ehrsynth"]["privacy"].get("epsilon_spent"),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epsilons", nargs="+", default=["1", "3", "none"])
    ap.add_argument("--engines", nargs="+", default=["dpsgd", "measure"])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-update", action="store_true")
    ap.add_argument("--data", type=Path, default=SHARED_DATA)
    ap.add_argument("--tuning", default="", help="label: write rows of the measure-tuning section instead")
    args = ap.parse_args()
    env = environment()
    train, test = load(args.rows, args.seed, args.data)
    results = []
    for e in args.epsilons:
        for engine in args.engines:
            r = run(train, test, engine, None if e == "none" else float(e), args.seed)
            print(r, flush=True)
            results.append(r)
    if args.tuning:
        from measure_tuning import record

        keys = {
            "auroc_synthetic": "auroc",
            "code_pair_tvd": "tvd2_mean",
            "fit_s": "fit_s",
            "epsilon": "epsilon",
        }
        record(args.tuning, [{new: r[old] for old, new in keys.items()} for r in results])
        return
    path = save_json("engines", {"environment": env, "results": results})
    fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [
        "### Engines on the user path — diabetes 10k × 204 (issue 12)",
        "",
        f"`python benchmarks/{' '.join(sys.argv)}` ({env['date']}, 2 cores, 1-minute load "
        f"{env['load_average_1min']:.1f}; other jobs shared the cores, so seconds are upper bounds). "
        "`ehrsynth.synthesize(df, epsilon=ε, engine=E, random_state=0)`, no schema; AUROC: mean "
        "dimension-wise prediction over the top-50 codes, trained on synthetic, tested on held-out real.",
        "",
        "| engine | ε | ε spent | AUROC synth (real) | TSTR readmission | prevalence r | code-pair TVD (independent) | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['engine']} | {r['epsilon'] or 'no DP'} | {fmt(r['epsilon_spent'])} | {fmt(r['auroc_synthetic'])} "
            f"({fmt(r['auroc_real'])}) | {fmt(r['tstr_auroc'])} | {r['prevalence_r']:.3f} | "
            f"{r['code_pair_tvd']:.4f} ({r['code_pair_tvd_independent']:.4f}) | {r['fit_s']} |"
        )
    md = "\n".join(lines)
    print(md, f"\nsaved {path}", sep="\n")
    if not args.no_update:
        update_section("engines", md)


if __name__ == "__main__":
    main()
