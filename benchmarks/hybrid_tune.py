"""Issue 12: choose the hybrid engine's λ (query-loss weight) and measurement share by a small measurement.

Diabetes 130-US (as ``engine_bench.py``: race, gender, age, readmitted + the 200 most frequent codes),
``--rows`` training and as many held-out patients, one seed, ε = ``--epsilon``; per (share, λ) the same metrics
as ``engine_bench.py`` (dimension-wise AUROC over the top-50 codes, code-pair TVD). Prints one line per fit and
saves ``results/hybrid-tune-*.json``; the chosen defaults live in ``ehrsynth/training/medgan_parts.py``.

    python benchmarks/hybrid_tune.py --rows 3000 --epsilon 1 --weights 0 1e3 1e4 1e5 --shares 0.5
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import engine_bench
from _results import environment, save_json
from engine_bench import load, run

from ehrsynth.estimator import MedGAN


def with_settings(share: float, weight: float) -> None:
    """Make every MedGAN fit in this process use (share, λ) — a benchmark-only override."""
    original = MedGAN._config

    def _config(self: MedGAN, n: int) -> Any:
        config = original(self, n)
        return dataclasses.replace(config, hybrid_measure_share=share, hybrid_query_weight=weight)

    MedGAN._config = _config  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 1e3, 1e4, 1e5])
    ap.add_argument("--shares", type=float, nargs="+", default=[0.5])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if "EHRSYNTH_SHARED_DATA" in os.environ:  # a git worktree's ../shared is not the data folder
        engine_bench.SHARED_DATA = Path(os.environ["EHRSYNTH_SHARED_DATA"])
    train, test = load(args.rows, args.seed)
    base = MedGAN._config
    results = []
    for share in args.shares:
        for weight in args.weights:
            MedGAN._config = base  # type: ignore[method-assign]
            with_settings(share, weight)
            r = {"share": share, "weight": weight, **run(train, test, "hybrid", args.epsilon, args.seed)}
            print(r, flush=True)
            results.append(r)
    print(
        f"saved {save_json(f'hybrid-tune-{args.rows}', {'environment': environment(), 'args': vars(args), 'results': results})}"
    )


if __name__ == "__main__":
    main()
