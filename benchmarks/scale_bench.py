"""Scale benchmark (issue 6 item 3): how MedGAN's cost grows with rows, on patient × code tables of 10k / 50k /
200k patients × 1,000 codes made by ``scale_data.make_scale_table`` (resampled and perturbed diabetes130
patients; the tables are generated in memory and never saved).

Per size: DP (ε = 3) and non-DP fit with 1 autoencoder epoch and 1 GAN epoch (phases timed from the progress
events; "epoch" = one pass over the rows: non-DP AE batch 100, GAN batch 1,000; DP a Poisson batch of 10 % of
the rows capped at 2,000, so a DP epoch at 200k rows is 100 steps), sampling rows/s (up to 100k rows) and the
privacy-audit time on (train, holdout, synthetic) — the audit is capped at 50k rows per table (beyond that it is
not run: 200k × 1k distances take longer than this benchmark's budget on 2 cores). Every model gets the same
declared schema (no ε spent on domains), so DP and non-DP times compare the training only.

Data: Diabetes 130-US hospitals (Strack et al. 2014, UCI id 296, CC BY 4.0), read from ../shared/data.

    python benchmarks/scale_bench.py --sizes 10000 50000          # what fits a shared 2-core machine
    python benchmarks/scale_bench.py                                # 10k, 50k, 200k
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from _results import SHARED_DATA, environment, save_json, update_section
from scale_data import make_scale_table

from ehrsynth import MedGAN
from ehrsynth.datasets import diabetes130_patient_table
from ehrsynth.estimator import NoPrivacyWarning
from ehrsynth.schema import Schema
from ehrsynth.training.progress import ProgressEvent

AUDIT_CAP = 50_000
SAMPLE_ROWS = 100_000


def timed_fit(
    train: pd.DataFrame, schema: Schema, eps: float | None, seed: int
) -> tuple[MedGAN, dict[str, Any]]:
    last: dict[str, ProgressEvent] = {}

    def progress(event: ProgressEvent) -> None:
        last[event.phase] = event

    model = MedGAN(epsilon=eps, ae_epochs=1, epochs=1, random_state=seed, progress=progress)
    start = time.perf_counter()
    model.fit(train, schema=schema)
    total = time.perf_counter() - start
    out: dict[str, Any] = {"fit_seconds": total}
    for phase, event in last.items():
        out[f"{phase}_seconds_per_epoch"] = event.elapsed
        out[f"{phase}_steps_per_epoch"] = event.total
    out["other_seconds"] = total - sum(e.elapsed for e in last.values())
    if eps is not None:
        out["epsilon_spent"] = model.privacy_.epsilon_spent
        out["sample_rate"] = model.schedule_.sample_rate
    return model, out


def bench_size(template: pd.DataFrame, n: int, n_codes: int, seed: int) -> dict[str, Any]:
    start = time.perf_counter()
    df = make_scale_table(template, n, n_codes, random_state=seed).drop(
        columns=["patient_nbr"], errors="ignore"
    )
    entry: dict[str, Any] = {
        "rows": n,
        "columns": df.shape[1],
        "generate_seconds": time.perf_counter() - start,
    }
    order = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    train, holdout = df.iloc[order[:cut]].reset_index(drop=True), df.iloc[order[cut:]].reset_index(drop=True)
    schema = Schema.infer(train)
    _, entry["dp"] = timed_fit(train, schema, 3.0, seed)
    model, entry["nondp"] = timed_fit(train, schema, None, seed)
    n_sample = min(SAMPLE_ROWS, n)
    start = time.perf_counter()
    synth = model.sample(n_sample, random_state=seed + 1)
    entry["sample_rows_per_second"] = n_sample / (time.perf_counter() - start)
    if n <= AUDIT_CAP:
        from ehrsynth.privacy import audit

        start = time.perf_counter()
        verdict = audit(train, holdout, synth.iloc[: len(train)], random_state=seed, n_bootstrap=100).verdict
        entry["audit_seconds"] = time.perf_counter() - start
        entry["audit_rows"] = {
            "train": len(train),
            "holdout": len(holdout),
            "synthetic": min(len(train), n_sample),
        }
        entry["audit_verdict"] = verdict
    else:
        entry["audit_seconds"] = None
        entry["audit_note"] = f"not run above {AUDIT_CAP} rows"
    return entry


def render(results: dict[str, Any], path: Any) -> str:
    env = results["environment"]
    lines = [
        "### Scale (issue 6) — MedGAN cost vs rows, 1,000 codes\n",
        f"`python benchmarks/scale_bench.py --sizes {' '.join(str(e['rows']) for e in results['sizes'])}` "
        f"({env['date']}, {env['cpus']} cores, torch {env['torch']}; 1-minute load average "
        f"{env.get('load_average_1min', float('nan')):.1f} at the end: above {env['cpus']} means other jobs shared "
        "the cores). Read the seconds for growth with rows. Tables from `scale_data.make_scale_table` (resampled + perturbed diabetes130 patients; never "
        "saved). 1 AE + 1 GAN epoch per fit; DP at ε = 3 (the per-epoch cost does not depend on ε); declared "
        f"schema; the audit is capped at {AUDIT_CAP:,} rows.\n",
        "| patients | cols | DP AE s/epoch (steps) | DP GAN s/epoch (steps) | non-DP AE s/epoch (steps) | "
        "non-DP GAN s/epoch (steps) | DP fit s | non-DP fit s | sample rows/s | audit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def phase(d: dict[str, Any], p: str) -> str:
        s = d.get(f"{p}_seconds_per_epoch")
        return "—" if s is None else f"{s:.1f} ({d.get(f'{p}_steps_per_epoch')})"

    for e in results["sizes"]:
        audit_s = "not run (cap)" if e["audit_seconds"] is None else f"{e['audit_seconds']:.0f}"
        lines.append(
            f"| {e['rows']:,} | {e['columns']} | {phase(e['dp'], 'autoencoder')} | {phase(e['dp'], 'gan')} | "
            f"{phase(e['nondp'], 'autoencoder')} | {phase(e['nondp'], 'gan')} | {e['dp']['fit_seconds']:.0f} | "
            f"{e['nondp']['fit_seconds']:.0f} | {e['sample_rows_per_second']:,.0f} | {audit_s} |"
        )
    lines.append(
        "\nDP and non-DP epochs differ in batch size and step count (see above), so the per-*step* DP/non-DP "
        "ratio (target ≤ 2×) is measured by `benchmarks/dp_bench.py` on equal batches, not here."
    )
    lines.append(f"\nJSON: `{path.relative_to(path.parents[1])}`.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description="MedGAN scale benchmark")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    ap.add_argument("--codes", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore", NoPrivacyWarning)
    template = diabetes130_patient_table(SHARED_DATA / "diabetes130" / "diabetic_data_dev.csv.gz")
    results: dict[str, Any] = {"environment": environment(), "codes": args.codes, "sizes": []}
    for n in args.sizes:
        entry = bench_size(template, n, args.codes, args.seed)
        results["sizes"].append(entry)
        print(entry, flush=True)
        path = save_json("scale", results)  # after every size: a later size may not fit the time box
        update_section("scale", render(results, path))


if __name__ == "__main__":
    main()
