"""Core pipeline benchmark (issue 2): the diabetes patient x ICD-9 code table, non-private medGAN.

Measures, on this machine: autoencoder pretraining and GAN seconds per epoch, sampling rows/s for 100k rows
(excluding the file write), and per-code prevalence Pearson r (real vs synthetic) with the reference schedule
(AE 100 epochs, GAN 1000 epochs) or a shorter one given by --epochs.

Data: Diabetes 130-US hospitals (Strack et al. 2014, CC BY 4.0), read from ../shared/data (never committed).

    python benchmarks/core_bench.py                 # reference schedule (long: see RESULTS.md)
    python benchmarks/core_bench.py --epochs 50     # shorter GAN schedule
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _results import SHARED_DATA, environment, save_json, update_section

from ehrsynth import MedGAN
from ehrsynth.datasets import diabetes130_patient_table
from ehrsynth.estimator import NoPrivacyWarning
from ehrsynth.schema import Kind
from ehrsynth.training.progress import ProgressEvent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--ae-epochs", type=int, default=100)
    ap.add_argument("--rows", type=int, default=None, help="use the first N patients only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore", NoPrivacyWarning)

    table = diabetes130_patient_table(SHARED_DATA / "diabetes130" / "diabetic_data_dev.csv.gz")
    if args.rows:
        table = table.iloc[: args.rows]
    phase_start: dict[str, float] = {}
    phase_end: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(event: ProgressEvent) -> None:
        now = time.perf_counter()
        phase_start.setdefault(event.phase, now)
        if event.step >= event.total:
            phase_end[event.phase] = now

    model = MedGAN(
        epsilon=None, epochs=args.epochs, ae_epochs=args.ae_epochs, random_state=args.seed, progress=progress
    )
    model.fit(table)
    fit_s = time.perf_counter() - t0
    ae_s = phase_end["autoencoder"] - phase_start["autoencoder"]
    gan_s = phase_end["gan"] - phase_start["gan"]

    model.sample(1000, random_state=0)  # warm-up
    t = time.perf_counter()
    synth = model.sample(100_000, random_state=1)
    sample_s = time.perf_counter() - t

    codes = [c.name for c in model.schema_ if c.kind is Kind.BINARY and c.name.startswith("dx_")]
    real_p = table[codes].mean().to_numpy(float)
    syn_p = synth[codes].mean().to_numpy(float)
    r = float(np.corrcoef(real_p, syn_p)[0, 1])
    # the same generator without the marginal calibration (what the GAN alone learned)
    calibration, model.calibration_ = model.calibration_, None
    raw_p = model.sample(100_000, random_state=1)[codes].mean().to_numpy(float)
    model.calibration_ = calibration
    r_raw = float(np.corrcoef(real_p, raw_p)[0, 1])
    result = {
        "environment": environment(),
        "data": {
            "rows": len(table),
            "columns": table.shape[1],
            "codes": len(codes),
            "width": model.transformer_.width,
        },
        "schedule": vars(model.schedule_),
        "ae_seconds_per_epoch": ae_s / max(args.ae_epochs, 1),
        "gan_seconds_per_epoch": gan_s / max(args.epochs, 1),
        "fit_seconds": fit_s,
        "sample_rows_per_second": 100_000 / sample_s,
        "prevalence_pearson_r": r,
        "prevalence_pearson_r_uncalibrated": r_raw,
        "prevalence_rmse": float(np.sqrt(np.mean((real_p - syn_p) ** 2))),
    }
    path = save_json(f"core-e{args.epochs}", result)
    print(result)
    md = (
        f"### Core pipeline (issue 2) — diabetes patient × code table, non-DP, AE {args.ae_epochs} / GAN "
        f"{args.epochs} epochs\n\n"
        f"`python benchmarks/core_bench.py --epochs {args.epochs} --ae-epochs {args.ae_epochs}` "
        f"({result['environment']['date']}, {result['environment']['cpus']} cores, torch "
        f"{result['environment']['torch']}); data: {len(table)} patients × {table.shape[1]} columns "
        f"({len(codes)} 3-digit ICD-9 codes), encoded width {model.transformer_.width}.\n\n"
        "| metric | value | target |\n|---|---|---|\n"
        f"| AE pretraining s/epoch | {result['ae_seconds_per_epoch']:.2f} | — |\n"
        f"| GAN s/epoch | {result['gan_seconds_per_epoch']:.2f} | — |\n"
        f"| sampling rows/s (100k rows, no file write) | {result['sample_rows_per_second']:,.0f} | ≥ 500,000 |\n"
        f"| per-code prevalence Pearson r (calibrated, the default) | {r:.4f} | ≥ 0.98 (reference schedule) |\n"
        f"| per-code prevalence Pearson r, GAN alone (no calibration) | {r_raw:.4f} | — |\n"
        f"| total fit time | {fit_s / 60:.1f} min | — |\n\n"
        f"JSON: `{path.relative_to(path.parents[1])}`\n"
    )
    update_section(f"core-e{args.epochs}", md)


if __name__ == "__main__":
    main()
