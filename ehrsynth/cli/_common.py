"""Options and helpers shared by the training/sampling sub-commands (stdlib-only at import time)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
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
    budget = dp.add_mutually_exclusive_group()  # --epsilon with --no-dp contradicts itself: exit 2
    budget.add_argument("--epsilon", type=float, default=3.0, help="privacy budget ε (default 3.0)")
    dp.add_argument(
        "--delta", type=float, default=None, help="δ (default: min(1e-5, 1/(10 n)), always < 1/n)"
    )
    budget.add_argument(
        "--no-dp", action="store_true", help="train WITHOUT differential privacy (no privacy guarantee)"
    )
    dp.add_argument(
        "--accountant", choices=("prv", "rdp"), default="prv", help="privacy accountant (default prv)"
    )
    dp.add_argument(
        "--engine",
        choices=("dpsgd", "measure", "hybrid"),
        default=None,
        help="how dependence is learnt: measure (DP releases of all pairs, then the generator fitted to them; "
        "the default), dpsgd (medGAN trained with DP-SGD) or hybrid (a DP release of all pairs, then DP-SGD "
        "medGAN whose generator also fits those pairs; the budget split between them)",
    )
    t = p.add_argument_group("training")
    t.add_argument(
        "--schema", metavar="F", help="declared schema JSON (from `ehrsynth schema`; spends no budget)"
    )
    t.add_argument(
        "--schema-is-public",
        action="store_true",
        help="state that a schema written with `ehrsynth schema --with-values` holds only public values "
        "(otherwise such a schema is refused under DP)",
    )
    t.add_argument(
        "--privacy-unit",
        choices=("patient", "row"),
        default="patient",
        help="under DP, 'patient' (default) refuses a table whose patient or visit key column (patient_nbr, "
        "subject_id, hadm_id...) repeats, because the guarantee covers one row; 'row' accepts a per-row "
        "guarantee and records it in privacy.json and the sidecar",
    )
    t.add_argument(
        "--epochs",
        type=nonneg_int,
        default=None,
        help="GAN epochs, engines dpsgd and hybrid (default: without DP at most 2,000 GAN iterations; under DP "
        "100 epochs of 10%% batches, fewer on tables under ~640 rows)",
    )
    t.add_argument(
        "--query-steps",
        type=positive_int,
        default=None,
        help="engine measure: Adam steps fitting the generator to the measured answers (default 1,500)",
    )
    t.add_argument(
        "--ae-epochs",
        type=nonneg_int,
        default=None,
        help="autoencoder pretraining epochs (default: without DP at most 1,500 steps; 10 under DP)",
    )
    t.add_argument(
        "--reference-schedule",
        action="store_true",
        help="the 2017 medGAN schedule (100 autoencoder + 1,000 GAN epochs; hours on 10k rows) instead of "
        "the default step caps",
    )
    t.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="(expected) batch size (default: 1000 without DP; under DP 10%% of the rows, 64 to 2000)",
    )
    t.add_argument(
        "--no-date-gaps",
        action="store_true",
        help="model every date on its own (default: a date that follows another within a year in nearly every "
        "row, e.g. discharge after admission, is modelled as its days after it, chosen by a DP count)",
    )
    t.add_argument("--seed", type=int, default=None, help="random seed for reproducible runs (default: none)")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when available)")
    t.add_argument("--checkpoint-dir", metavar="DIR", help="save GAN checkpoints here and resume from them")
    t.add_argument("--quiet", action="store_true", help="no progress bars or stage lines")
    codes = p.add_argument_group("long (patient, code) input")
    codes.add_argument(
        "--long", action="store_true", help="INPUT is long format: one row per (patient, code)"
    )
    codes.add_argument("--patient", metavar="COL", help="patient id column of the long input")
    codes.add_argument("--code", metavar="COL", help="code column of the long input")
    codes.add_argument("--counts", action="store_true", help="model code counts instead of presence")
    codes.add_argument(
        "--grouping",
        choices=("icd9_3digit",),
        default=None,
        help="group codes before modelling (default: none)",
    )


def model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "epsilon": None if args.no_dp else args.epsilon,
        "delta": args.delta,
        "accountant": args.accountant,
        **({} if getattr(args, "engine", None) is None else {"engine": args.engine}),
        **({} if getattr(args, "query_steps", None) is None else {"query_steps": args.query_steps}),
        "epochs": 1000 if args.reference_schedule and args.epochs is None else args.epochs,
        "ae_epochs": 100 if args.reference_schedule and args.ae_epochs is None else args.ae_epochs,
        "batch_size": args.batch_size,
        "random_state": args.seed,
        "device": args.device,
        "checkpoint_dir": args.checkpoint_dir,
        "date_gaps": not getattr(args, "no_date_gaps", False),
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


# -- output paths: checked before any work, never an input ---------------------------------------------------


def _same_path(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (hard links and symlinks included) or the same place."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_input_as_output(outputs: Iterable[str | None], inputs: Iterable[str | None]) -> None:
    """Raise (exit 2) when an output path resolves to an input path or to another output: writing it would
    destroy the real data (``synthesize in.csv -o in.csv``, ``audit --json train.csv``)."""
    from ehrsynth.errors import InvalidParameterError

    ins = [Path(p) for p in inputs if p]
    seen: list[Path] = []
    for text in outputs:
        if not text:
            continue
        out = Path(text)
        for inp in ins:
            if _same_path(out, inp):
                raise InvalidParameterError(
                    f"output {text!r} is the input {str(inp)!r}; writing it would overwrite the input. "
                    "Choose another output path"
                )
        for other in seen:
            if _same_path(out, other):
                raise InvalidParameterError(
                    f"output {text!r} is given twice (also as {str(other)!r}); give each output its own path"
                )
        seen.append(out)


def check_file_output(path: str) -> None:
    """An output file must not be a directory and its directory must exist (checked before any work)."""
    from ehrsynth.errors import InvalidParameterError
    from ehrsynth.io.atomic import ensure_parent

    p = Path(path)
    if p.is_dir():
        raise InvalidParameterError(
            f"output {path!r} is a directory; give a file name, e.g. {str(p / 'out')!r} with the file's suffix"
        )
    ensure_parent(p)


def check_model_dir_output(path: str) -> None:
    """A model directory to write: new, empty, or an existing ehrsynth model directory (with manifest.json),
    never an unrelated directory whose files (e.g. a config.json) would be overwritten; its parent must exist."""
    from ehrsynth.errors import InvalidParameterError
    from ehrsynth.io.atomic import ensure_parent

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InvalidParameterError(f"model directory {path!r} exists and is a file; choose a directory path")
    if p.is_dir() and any(p.iterdir()) and not (p / "manifest.json").is_file():
        raise InvalidParameterError(
            f"{path!r} is a non-empty directory that is not an ehrsynth model directory (no manifest.json); "
            "writing the model would overwrite its files. Choose a new or empty directory"
        )
    ensure_parent(p)
