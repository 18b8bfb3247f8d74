"""Options and helpers shared by the training/sampling sub-commands (stdlib-only at import time)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse ``type=`` that accepts integers >= ``minimum`` (``what`` names them in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, found {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, found {text!r}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"  # argparse names the type in its own messages
    return parse


positive_int = int_at_least(1, "a positive integer")
nonneg_int = int_at_least(0, "an integer >= 0")


def add_training_options(p: argparse.ArgumentParser) -> None:
    dp = p.add_argument_group("privacy")
    dp.add_argument("--epsilon", type=float, default=3.0, help="privacy budget ε (default 3.0)")
    dp.add_argument(
        "--delta", type=float, default=None, help="δ (default: min(1e-5, 1/(10 n)), always < 1/n)"
    )
    dp.add_argument(
        "--no-dp", action="store_true", help="train WITHOUT differential privacy (no privacy guarantee)"
    )
    dp.add_argument("--accountant", choices=("prv", "rdp"), default="prv", help="privacy accountant")
    t = p.add_argument_group("training")
    t.add_argument(
        "--schema", metavar="F", help="declared schema JSON (from `ehrsynth schema`; spends no budget)"
    )
    t.add_argument(
        "--epochs", type=nonneg_int, default=None, help="GAN epochs (default: 1000 non-DP, DP default)"
    )
    t.add_argument("--ae-epochs", type=nonneg_int, default=None, help="autoencoder pretraining epochs")
    t.add_argument("--batch-size", type=positive_int, default=None, help="(expected) batch size")
    t.add_argument("--seed", type=int, default=None, help="random seed (reproducible runs)")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    t.add_argument("--checkpoint-dir", metavar="DIR", help="save GAN checkpoints here and resume from them")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    codes = p.add_argument_group("long (patient, code) input")
    codes.add_argument(
        "--long", action="store_true", help="INPUT is long format: one row per (patient, code)"
    )
    codes.add_argument("--patient", metavar="COL", help="patient id column of the long input")
    codes.add_argument("--code", metavar="COL", help="code column of the long input")
    codes.add_argument("--counts", action="store_true", help="model code counts instead of presence")
    codes.add_argument(
        "--grouping", choices=("icd9_3digit",), default=None, help="group codes before modelling"
    )


def model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "epsilon": None if args.no_dp else args.epsilon,
        "delta": args.delta,
        "accountant": args.accountant,
        "epochs": args.epochs,
        "ae_epochs": args.ae_epochs,
        "batch_size": args.batch_size,
        "random_state": args.seed,
        "device": args.device,
        "checkpoint_dir": args.checkpoint_dir,
    }


def warn_no_dp(args: argparse.Namespace) -> None:
    if getattr(args, "no_dp", False):
        print(
            "ehrsynth: WARNING: --no-dp: training WITHOUT differential privacy. No privacy guarantee holds for "
            "the model or its output; do not share them as de-identified data.",
            file=sys.stderr,
        )


def err(message: str) -> None:
    print(message, file=sys.stderr)


def report_privacy(model: Any) -> None:
    """One stderr line: the ε/δ a fitted model spent, or that it has no DP guarantee."""
    record = model.privacy_
    if record.epsilon is None:
        print("ehrsynth: trained without differential privacy (no guarantee)", file=sys.stderr)
    else:
        print(
            f"ehrsynth: privacy spent: epsilon = {record.epsilon_spent:.4g} (budget {record.epsilon:g}), "
            f"delta = {record.delta:.3g}, accountant = {record.accountant}",
            file=sys.stderr,
        )
