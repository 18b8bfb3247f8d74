"""`ehrsynth synthesize`, `ehrsynth fit` and `ehrsynth sample`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ehrsynth.cli._common import (
    add_training_options,
    model_kwargs,
    positive_int,
    report_privacy,
    warn_no_dp,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("synthesize", help="fit a model on INPUT and write a synthetic table (DP by default)")
    p.add_argument("input", help="real table: .csv, .csv.gz or .parquet")
    p.add_argument("-o", "--output", required=True, help="synthetic table to write (.csv[.gz] or .parquet)")
    p.add_argument(
        "--rows", type=positive_int, default=None, help="rows to generate (default: as many as INPUT)"
    )
    p.add_argument("--save-model", metavar="DIR", help="also save the fitted model directory")
    p.add_argument("--wide", action="store_true", help="with --long: write the patient x code matrix")
    add_training_options(p)
    p.set_defaults(handler=run_synthesize)

    f = sub.add_parser("fit", help="fit a model on INPUT and save the model directory")
    f.add_argument("input", help="real table: .csv, .csv.gz or .parquet")
    f.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model directory to write")
    add_training_options(f)
    f.set_defaults(handler=run_fit)

    s = sub.add_parser("sample", help="sample a synthetic table from a saved model directory")
    s.add_argument("model_dir", metavar="MODEL_DIR")
    s.add_argument("-n", "--rows", type=positive_int, required=True, help="rows to generate")
    s.add_argument("-o", "--output", required=True, help="synthetic table to write (.csv[.gz] or .parquet)")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--device", default="cpu")
    s.add_argument("--wide", action="store_true", help="for a model fitted on long input: write the matrix")
    s.set_defaults(handler=run_sample)


def _fit(args: argparse.Namespace) -> tuple[Any, Any]:
    from ehrsynth.cli._pipeline import read_input
    from ehrsynth.estimator import MedGAN
    from ehrsynth.schema import Schema

    warn_no_dp(args)
    data = read_input(args)
    schema = Schema.load(args.schema) if args.schema else None
    progress = None
    if not args.quiet:
        from ehrsynth.training.progress import TqdmProgress

        progress = TqdmProgress()
    model = MedGAN(progress=progress, **model_kwargs(args))
    import warnings

    with warnings.catch_warnings():
        from ehrsynth.estimator import NoPrivacyWarning

        warnings.simplefilter("ignore", NoPrivacyWarning)  # the CLI already said it, louder
        model.fit(
            data.frame, schema=schema, code_columns=data.code_columns, schema_is_public=args.schema_is_public
        )
    return model, data


def run_synthesize(args: argparse.Namespace) -> int:
    from ehrsynth.cli._pipeline import check_output, write_output

    check_output(args.output)  # fail before hours of training, not after
    model, data = _fit(args)
    out = model.sample(
        args.rows or len(data.frame), random_state=None if args.seed is None else args.seed + 1
    )
    summary = _fidelity(model, out, args)
    side = write_output(out, args.output, model, data.long, args.wide, extra={"fidelity": summary})
    if args.save_model:
        _save(model, args.save_model, data.long)
    report_privacy(model)
    print(f"ehrsynth: wrote {args.output} ({len(out)} synthetic rows) and {side}", file=sys.stderr)
    return 0


def _fidelity(model: Any, out: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Each synthetic column against its released marginal: printed (unless --quiet), kept in the sidecar."""
    from ehrsynth.fidelity import fidelity_summary

    summary = fidelity_summary(model.schema_, out)
    if not getattr(args, "quiet", False):
        print("ehrsynth: fidelity of each column against its released marginal:", file=sys.stderr)
        print(summary.to_text(), file=sys.stderr)
    if summary.flagged:
        names = ", ".join(c.column for c in summary.flagged[:10])
        print(
            f"ehrsynth: WARNING {len(summary.flagged)} column(s) over the fidelity thresholds: {names}",
            file=sys.stderr,
        )
    return summary.to_dict()


def _save(model: Any, path: str, long: dict[str, object] | None) -> None:
    import json
    from pathlib import Path

    model.save(path)
    if long is not None:  # remember how to write long output at sample time
        from ehrsynth.io.atomic import write_text_atomic

        write_text_atomic(Path(path) / "long_input.json", json.dumps(long) + "\n")


def run_fit(args: argparse.Namespace) -> int:
    model, data = _fit(args)
    _save(model, args.output, data.long)
    report_privacy(model)
    print(f"ehrsynth: saved model to {args.output}", file=sys.stderr)
    return 0


def run_sample(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ehrsynth.cli._pipeline import check_output, write_output
    from ehrsynth.io.model_dir import load

    check_output(args.output)
    model = load(args.model_dir, device=args.device)
    long_file = Path(args.model_dir) / "long_input.json"
    long = json.loads(long_file.read_text(encoding="utf-8")) if long_file.is_file() else None
    out = model.sample(args.rows, random_state=args.seed)
    summary = _fidelity(model, out, args)
    side = write_output(out, args.output, model, long, args.wide, extra={"fidelity": summary})
    report_privacy(model)
    print(f"ehrsynth: wrote {args.output} ({len(out)} synthetic rows) and {side}", file=sys.stderr)
    return 0
