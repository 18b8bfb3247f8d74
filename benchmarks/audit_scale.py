"""Scale benchmark of the privacy audit (issue 4): train, holdout and synthetic tables of N patients x D binary codes.

Data are generated in this script (no real data): per-code prevalences follow a power law
(``p_j = 0.45 * j ** -0.7``, about 11 codes per patient at D = 1,000, like 3-digit ICD-9 diagnoses per patient in
MIMIC-III) and codes are correlated through two latent patient factors (logit p_ij = logit p_j + z_i . b_j). The
synthetic table is an independent sample of the same generator, i.e. a synthesizer that learned the population
and nothing about individuals, so the expected verdict is "low".

The audit runs in a fresh child process; wall time is that of ``ehrsynth.privacy.audit`` alone (data generation
excluded) and peak memory the child's maximum resident set size (``resource.getrusage``), which includes the
three input tables (uint8, 3 x N x D bytes).

    python benchmarks/audit_scale.py                   # 50,000 x 1,000 (targets: <= 120 s, <= 2 GB on 2 cores)
    python benchmarks/audit_scale.py --rows 5000 --codes 200 --no-save    # quick check

Writes benchmarks/results/audit_scale.json and the table in benchmarks/results_audit.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results" / "audit_scale.json"
RESULTS_MD = HERE / "results_audit.md"
TARGET_SECONDS = 120.0
TARGET_GB = 2.0


def generate(n: int, d: int, seed: int) -> Any:
    """An n x d uint8 code table from the power-law / latent-factor generator (built in row chunks)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    gen_rng = np.random.default_rng(12345)  # the population (prevalences, loadings) is shared by all tables
    base = 0.45 * np.arange(1, d + 1) ** -0.7
    logit = np.log(base / (1 - base)).astype(np.float32)
    loadings = (gen_rng.normal(0.0, 0.6, size=(d, 2))).astype(np.float32)
    out = np.empty((n, d), dtype=np.uint8)
    for start in range(0, n, 5000):
        stop = min(n, start + 5000)
        z = rng.standard_normal((stop - start, 2)).astype(np.float32)
        p = 1.0 / (1.0 + np.exp(-(logit[None, :] + z @ loadings.T)))
        out[start:stop] = rng.random((stop - start, d), dtype=np.float32) < p
    return pd.DataFrame(out, columns=[f"code_{j:04d}" for j in range(d)])


def child(rows: int, codes: int, seed: int) -> None:
    import resource

    t0 = time.perf_counter()
    train = generate(rows, codes, seed)
    holdout = generate(rows, codes, seed + 1)
    synthetic = generate(rows, codes, seed + 2)
    gen_s = time.perf_counter() - t0
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB

    from ehrsynth.privacy import audit

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    load0 = os.getloadavg()[0]
    t1 = time.perf_counter()
    report = audit(train, holdout, synthetic, random_state=seed)
    wall = time.perf_counter() - t1
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    data = report.to_dict()
    m = data["attacks"]["membership"]
    print(
        json.dumps(
            {
                "generate_s": gen_s,
                "audit_s": wall,
                "audit_cpu_s": cpu,
                "load_average_before": load0,
                "load_average_after": os.getloadavg()[0],
                "peak_rss_gb": rss_peak,
                "rss_after_data_gb": rss_data,
                "mean_codes_per_patient": float(train.to_numpy().sum(axis=1).mean()),
                "verdict": report.verdict,
                "verdicts": data["verdicts"],
                "membership_auc": m["auc"],
                "membership_auc_ci": m["auc_ci"],
                "headline_attack": m["headline_attack"],
                "stage_seconds": data["timing_s"],
                "stage_cpu_seconds": data["cpu_s"],
                "torch_imported": "torch" in sys.modules,
            }
        )
    )


def markdown(result: dict[str, Any]) -> str:
    r = result
    ok_t = "yes" if r["audit_s"] <= TARGET_SECONDS else "NO"
    ok_m = "yes" if r["peak_rss_gb"] <= TARGET_GB else "NO"
    stages = ", ".join(
        f"{k} {v:.1f} s ({r['stage_cpu_seconds'][k]:.1f} CPU-s)"
        for k, v in r["stage_seconds"].items()
        if k != "total"
    )
    load = (r["load_average_before"] + r["load_average_after"]) / 2
    return "\n".join(
        [
            "## Privacy audit at scale (issue 4)",
            "",
            f"`python benchmarks/audit_scale.py --rows {r['rows']} --codes {r['codes']}` on {r['cpus']} CPU cores "
            f"({r['machine']}), {r['date']}. Generated data (power-law prevalences, two latent factors, "
            f"{r['mean_codes_per_patient']:.1f} codes per patient); synthetic = independent sample of the same "
            "generator. Wall time is `ehrsynth.privacy.audit` alone; CPU time sums all its threads; the load "
            "average shows how busy the 2 cores were with other jobs during the run.",
            "",
            "| tables | full audit wall time | target | CPU time | load average | peak memory (max RSS, incl. inputs) "
            "| target | verdict |",
            "|---|---|---|---|---|---|---|---|",
            f"| 3 x {r['rows']:,} x {r['codes']:,} binary | {r['audit_s']:.1f} s | <= {TARGET_SECONDS:.0f} s ({ok_t}) "
            f"| {r['audit_cpu_s']:.1f} s | {load:.1f} | {r['peak_rss_gb']:.2f} GB | <= {TARGET_GB:.0f} GB ({ok_m}) "
            f"| {r['verdict']} (membership AUC {r['membership_auc']:.3f} [{r['membership_auc_ci'][0]:.3f}, "
            f"{r['membership_auc_ci'][1]:.3f}]) |",
            "",
            f"Stages: {stages}. Inputs alone: {r['rss_after_data_gb']:.2f} GB RSS. torch imported: "
            f"{r['torch_imported']}.",
            "",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--codes", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-save", action="store_true", help="print only; do not write results files")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.rows, args.codes, args.seed)
        return
    cmd = [sys.executable, __file__, "--child", "--rows", str(args.rows), "--codes", str(args.codes)]
    cmd += ["--seed", str(args.seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(
        {
            "rows": args.rows,
            "codes": args.codes,
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"),
            "target_seconds": TARGET_SECONDS,
            "target_gb": TARGET_GB,
        }
    )
    print(json.dumps(result, indent=2))
    if not args.no_save:
        RESULTS_JSON.parent.mkdir(exist_ok=True)
        RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n")
        RESULTS_MD.write_text(markdown(result))
        print(f"wrote {RESULTS_JSON} and {RESULTS_MD}")


if __name__ == "__main__":
    main()
