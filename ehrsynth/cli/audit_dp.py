"""`ehrsynth audit-dp INPUT`: an empirical (canary-based) lower bound on the ε that training achieves.

Exit codes: 0 when the lower bound does not exceed the claimed ε (or nothing is claimed: ``--no-dp``),
3 when it does (the claim is refuted), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ehrsynth.cli._common import nonneg_int, positive_int

EXIT_REFUTED = 3


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "audit-dp",
        help="measure a 95%% lower bound on the epsilon that DP training achieves (canaries, one-run audit)",
        description=(
            "Train the DP medGAN on INPUT plus canary records, each included with probability 1/2, attack "
            "the fitted model, and turn the attacks' correct guesses into a lower bound on epsilon at 95% "
            "confidence (Steinke, Nasr & Jagielski 2023). Exit 3 when the bound exceeds the claimed epsilon."
        ),
    )
    p.add_argument("input", help="real table: .csv, .csv.gz or .parquet")
    claim = p.add_mutually_exclusive_group()
    claim.add_argument(
        "--epsilon", type=float, default=3.0, help="the claimed epsilon to audit (default 3.0)"
    )
    claim.add_argument(
        "--no-dp", action="store_true", help="train WITHOUT DP and measure how much the pipeline leaks"
    )
    p.add_argument("--delta", type=float, default=None, help="delta of the claim (default: below 1/n)")
    p.add_argument("--canaries", type=positive_int, default=500, help="canaries per run (default 500)")
    p.add_argument("--runs", type=positive_int, default=1, help="independent training runs (default 1)")
    p.add_argument("--json", metavar="OUT", help="write the JSON report here")
    p.add_argument("--html", metavar="OUT", help="write a short HTML summary here")
    p.add_argument("--seed", type=int, default=None, help="random seed (reproducible audits)")
    t = p.add_argument_group("training (defaults: the audit's schedule)")
    t.add_argument("--epochs", type=nonneg_int, default=None, help="GAN epochs (audit default 30)")
    t.add_argument(
        "--ae-epochs", type=nonneg_int, default=None, help="autoencoder epochs (audit default 100)"
    )
    t.add_argument("--batch-size", type=positive_int, default=None, help="(expected) batch size")
    t.add_argument(
        "--engine",
        choices=("dpsgd", "measure", "hybrid"),
        default=None,
        help="the engine whose training is audited (as `ehrsynth train --engine`; default: the library's, "
        "measure)",
    )
    t.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    t.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="CPU threads for torch (default: $OMP_NUM_THREADS, else 1: the audited models are small, and more "
        "threads than free cores make them many times slower)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def _model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"device": args.device}
    for name in ("engine", "epochs", "ae_epochs", "batch_size"):
        value = getattr(args, name)
        if value is not None:
            out[name] = value
    if not args.quiet:
        from ehrsynth.training.progress import TqdmProgress

        out["progress"] = TqdmProgress()
    return out


def _set_threads(threads: int | None) -> None:
    import os

    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    elif not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(1)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ehrsynth.cli._common import check_file_output, refuse_input_as_output
    from ehrsynth.dp_verify.runner import dp_audit
    from ehrsynth.io.tables import read_table

    for out in (args.json, args.html):
        if out:
            check_file_output(out)  # fail before training, not after
    refuse_input_as_output([args.json, args.html], [args.input])
    if args.no_dp:
        print(
            "ehrsynth: WARNING: --no-dp: the audited models are trained WITHOUT differential privacy (they "
            "are never saved); the bound measures how much the pipeline leaks without DP.",
            file=sys.stderr,
        )
    df = read_table(args.input)
    _set_threads(args.threads)
    report = dp_audit(
        df,
        epsilon=None if args.no_dp else args.epsilon,
        canaries=args.canaries,
        runs=args.runs,
        random_state=args.seed,
        delta=args.delta,
        source=Path(args.input).name,
        **_model_kwargs(args),
    )
    if args.json:
        report.save_json(args.json)
    if args.html:
        report.save_html(args.html)
    data = report.to_dict()
    if report.epsilon_claimed is None:
        verdict = "trained without DP, nothing claimed"
    else:
        verdict = f"claimed {report.epsilon_claimed:g}: {'REFUTED' if report.refuted else 'not refuted'}"
    auc = "n/a" if data["attack_auc"] is None else f"{data['attack_auc']:.3f}"
    print(
        f"epsilon lower bound {report.epsilon_lower_bound:.3f} ({100 * data['confidence']:g}% confidence, "
        f"delta {data['delta']:.3g}); {verdict}; best attack {data['attack']} (AUC {auc}); "
        f"{data['canaries']} canaries x {data['runs']} run(s)"
    )
    return EXIT_REFUTED if report.refuted else 0
