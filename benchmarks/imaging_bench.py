"""Imaging benchmark (issue 7): class-conditional ImageGAN on PneumoniaMNIST, non-DP and DP.

For each run: fit on the training split (3,882 images: 388 normal, 3,494 pneumonia), time it (training images
per second = discriminator steps × batch / fit seconds), sample a class-balanced synthetic set, and evaluate it
with :func:`ehrsynth.imaging.evaluate` against the official test split (624 images): TSTR AUC next to TRTR AUC,
Fréchet distance in the real-trained CNN's feature space, memorisation (held-out = the val split).
Writes ``benchmarks/results/imaging-<date>.json`` and the table in ``benchmarks/results_imaging.md``.

Data: PneumoniaMNIST (MedMNIST v2; Yang et al. 2023, Scientific Data 10:41; Kermany et al. 2018, Cell 172(5);
CC BY 4.0), read from ../shared/data (never committed).

    python benchmarks/imaging_bench.py                         # non-DP and DP at epsilon 10
    python benchmarks/imaging_bench.py --runs nondp --epochs 30
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

from _results import HERE, SHARED_DATA, environment, save_json

from ehrsynth.estimator import NoPrivacyWarning
from ehrsynth.imaging import ImageGAN, evaluate, load_npz
from ehrsynth.imaging.evaluation import real_splits

DATA = SHARED_DATA / "medmnist" / "pneumoniamnist_trainsubset.npz"
MARKDOWN = HERE / "results_imaging.md"


def run_one(
    name: str, epsilon: float | None, args: argparse.Namespace, real: dict[str, Any]
) -> dict[str, Any]:
    train = real["train"]
    epochs = args.epochs if epsilon is None else args.dp_epochs
    model = ImageGAN(epsilon=epsilon, epochs=epochs, random_state=args.seed, device=args.device)
    start = time.perf_counter()
    model.fit(train.images, train.labels)
    fit_s = time.perf_counter() - start
    sched = model.schedule_
    real_images = sched["iterations"] * sched["d_steps"] * sched["batch_size"]
    start = time.perf_counter()
    images, labels = model.sample(args.n_synthetic, random_state=args.seed + 1)
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    result = evaluate(real, (images, labels), epochs=args.eval_epochs, random_state=args.seed)
    eval_s = time.perf_counter() - start
    record = model.privacy_.to_dict()
    row = {
        "name": name,
        "epsilon": epsilon,
        "epsilon_spent": record["epsilon_spent"],
        "delta": record["delta"],
        "mechanisms": record["mechanisms"],
        "schedule": sched,
        "fit_seconds": fit_s,
        "train_images_per_second": real_images / fit_s,
        "sample_images_per_second": len(images) / sample_s,
        "eval_seconds": eval_s,
        **result,
    }
    print(
        f"{name}: fit {fit_s:.0f} s ({row['train_images_per_second']:.0f} img/s), TSTR {result['tstr_auc']:.3f} "
        f"TRTR {result['trtr_auc']:.3f} FD {result['frechet_distance']:.2f} "
        f"(baseline {result['frechet_distance_real_baseline']:.2f}), closer-to-train "
        f"{result['memorisation']['closer_to_train_share']:.3f}, eps {record['epsilon_spent']}"
    )
    return row


def markdown(rows: list[dict[str, Any]], env: dict[str, Any], command: str, json_path: Path) -> str:
    lines = [
        "### Imaging (issue 7) — PneumoniaMNIST, class-conditional ImageGAN",
        "",
        f"`{command}` ({env['date']}, {env['cpus']} CPU cores, torch {env['torch']}, "
        f"GPU: {env['cuda'] or 'none'}). Train 3,882 images (388 normal / 3,494 pneumonia, 28×28), synthetic "
        "set class-balanced; TSTR/TRTR: the same small CNN (10 epochs) tested on the official test split (624). "
        "Fréchet distance in the real-trained CNN's 64-d features (synthetic vs real test; baseline: as many "
        "real training images vs real test). Memorisation: held-out = val split (524).",
        "",
        "| run | ε spent | epochs | fit time | train img/s | TSTR AUC | TRTR AUC | Fréchet (baseline) "
        "| closer-to-train share (0.5 = none) | near copies |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        eps = "— (no DP)" if r["epsilon"] is None else f"{r['epsilon_spent']:.3f} (δ = {r['delta']:.1e})"
        mem = r["memorisation"]
        lines.append(
            f"| {r['name']} | {eps} | {r['schedule']['epochs']} | {r['fit_seconds'] / 60:.1f} min | "
            f"{r['train_images_per_second']:.0f} | {r['tstr_auc']:.3f} | {r['trtr_auc']:.3f} | "
            f"{r['frechet_distance']:.2f} ({r['frechet_distance_real_baseline']:.2f}) | "
            f"{mem['closer_to_train_share']:.3f} | {mem['near_copies']} / {mem['n_synthetic']} |"
        )
    lines += [
        "",
        "Targets: non-DP TSTR AUC ≥ 0.90 with TRTR beside it; DP at ε = 10 reported. Reference: MedMNIST v2 "
        "ResNet-18 (28 px) test AUC 0.944 on the full training set.",
        f"JSON: `{json_path.relative_to(HERE)}`. Data: PneumoniaMNIST (MedMNIST v2, Yang et al. 2023; "
        "Kermany et al. 2018; CC BY 4.0).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", choices=("nondp", "dp"), default=["nondp", "dp"])
    ap.add_argument("--epochs", type=int, default=None, help="non-DP epochs (default: ImageGAN's)")
    ap.add_argument("--dp-epochs", type=int, default=None, help="DP epochs (default: ImageGAN's)")
    ap.add_argument("--epsilon", type=float, default=10.0)
    ap.add_argument("--n-synthetic", type=int, default=4000)
    ap.add_argument("--eval-epochs", type=int, default=10)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is not present (../shared/data)")
    warnings.simplefilter("ignore", NoPrivacyWarning)
    real = real_splits(DATA)
    assert len(load_npz(DATA, "train")) == len(real["train"])
    rows = []
    if "nondp" in args.runs:
        rows.append(run_one("non-DP", None, args, real))
    if "dp" in args.runs:
        rows.append(run_one(f"DP ε = {args.epsilon:g}", args.epsilon, args, real))
    if args.no_write:
        return
    env = environment()
    command = "python benchmarks/imaging_bench.py " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(args).items()
        if v is not None and k in ("epochs", "dp_epochs")
    )
    path = save_json("imaging", {"environment": env, "args": vars(args), "runs": rows})
    MARKDOWN.write_text(markdown(rows, env, command.strip(), path))
    print(f"wrote {path} and {MARKDOWN}")


if __name__ == "__main__":
    main()
