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

ROW_SIZES_HELP = (
    "keep the released number of codes (and missing flags) per row (engine measure): codes per patient come "
    "out right, some learnt dependence is lost (README, Engines)"
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "synthesize",
        help="fit a model on INPUT and write a synthetic table (DP by default)",
        description="Fit a DP medGAN on INPUT and write a synthetic table with a provenance sidecar.",
    )
    p.add_argument("input", help="real table: .csv, .csv.gz or .parquet")
    p.add_argument("-o", "--output", required=True, help="synthetic table to write (.csv[.gz] or .parquet)")
    p.add_argument(
        "--rows", type=positive_int, default=None, help="rows to generate (default: as many as INPUT)"
    )
    p.add_argument("--save-model", metavar="DIR", help="also save the fitted model directory")
    p.add_argument("--wide", action="store_true", help="with --long: write the patient x code matrix")
    p.add_argument("--match-row-sizes", action="store_true", help=ROW_SIZES_HELP)
    add_training_options(p)
    p.set_defaults(handler=run_synthesize)

    f = sub.add_parser(
        "fit",
        help="fit a model on INPUT and save the model directory",
        description="Fit a DP medGAN on INPUT and save it as a model directory (sample it with `sample`).",
    )
    f.add_argument("input", help="real table: .csv, .csv.gz or .parquet")
    f.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model directory to write")
    add_training_options(f)
    f.set_defaults(handler=run_fit)

    s = sub.add_parser(
        "sample",
        help="sample a synthetic table from a saved model directory",
        description="Draw rows from a saved model directory (post-processing: spends no privacy budget).",
    )
    s.add_argument("model_dir", metavar="MODEL_DIR", help="model directory written by `fit` or --save-model")
    s.add_argument("-n", "--rows", type=positive_int, required=True, help="rows to generate")
    s.add_argument("-o", "--output", required=True, help="synthetic table to write (.csv[.gz] or .parquet)")
    s.add_argument("--seed", type=int, default=None, help="random seed for reproducible rows (default: none)")
    s.add_argument("--device", default="cpu", help="auto | cpu | cuda (default cpu)")
    s.add_argument("--wide", action="store_true", help="for a model fitted on long input: write the matrix")
    s.add_argument("--match-row-sizes", action="store_true", help=ROW_SIZES_HELP)
    s.set_defaults(handler=run_sample)


def _fit(args: argparse.Namespace, n_rows: int | None = None) -> tuple[Any, Any, Any]:
    """Read the input and fit; with ``n_rows`` also sample, through the one synthesize code path
    (:func:`ehrsynth.api.fit_sample`, the same seeds as ``ehrsynth.synthesize(random_state=--seed)``)."""
    import warnings

    from ehrsynth.api import fit_sample
    from ehrsynth.cli._pipeline import read_input
    from ehrsynth.cli._ux import stage
    from ehrsynth.errors import NoPrivacyWarning
    from ehrsynth.schema import Schema

    warn_no_dp(args)
    stage(args, f"reading {args.input}")
    data = read_input(args)
    schema = Schema.load(args.schema) if args.schema else None
    stage(
        args,
        "fitting WITHOUT differential privacy"
        if args.no_dp
        else "fitting under differential privacy: releasing every column's 1-way marginal, then training",
    )
    progress = None
    if not args.quiet:
        from ehrsynth.training.progress import TqdmProgress

        progress = TqdmProgress()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)  # the CLI already said it, louder
        if n_rows is None:
            from ehrsynth.estimator import MedGAN

            model = MedGAN(progress=progress, **model_kwargs(args))
            model.fit(
                data.frame,
                schema=schema,
                code_columns=data.code_columns,
                schema_is_public=args.schema_is_public,
                privacy_unit=args.privacy_unit,
            )
            return model, data, None
        model, out = fit_sample(
            data.frame,
            n_rows=n_rows or len(data.frame),
            schema=schema,
            code_columns=data.code_columns,
            schema_is_public=args.schema_is_public,
            privacy_unit=args.privacy_unit,
            progress=progress,
            match_row_sizes=args.match_row_sizes,
            **model_kwargs(args),
        )
    return model, data, out


def run_synthesize(args: argparse.Namespace) -> int:
    from ehrsynth.cli._pipeline import check_output, write_output

    check_output(args.output)  # fail before hours of training, not after
    model, data, out = _fit(args, n_rows=args.rows or 0)
    summary = _fidelity(model, out, args, warn=False)
    side = write_output(out, args.output, model, data.long, args.wide, extra={"fidelity": summary})
    if args.save_model:
        model.save(args.save_model, long_input=data.long)
    report_privacy(model)
    print(f"ehrsynth: wrote {args.output} ({len(out)} synthetic rows) and {side}", file=sys.stderr)
    return 0


def _fidelity(model: Any, out: Any, args: argparse.Namespace, *, warn: bool) -> dict[str, Any]:
    """Each synthetic column against its released marginal: printed (unless --quiet), kept in the sidecar;
    ``warn``: also the DataFidelityWarning naming flagged columns (synthesize already raised it)."""
    from ehrsynth.fidelity import fidelity_summary

    summary = fidelity_summary(model.schema_, model.as_modelled(out))
    if not getattr(args, "quiet", False):
        print("ehrsynth: fidelity of each column against its released marginal:", file=sys.stderr)
        print(summary.to_text(), file=sys.stderr)
        for o in getattr(model, "date_orders_", ()):
            print(
                f"ehrsynth: {o.column!r} is kept on or after {o.after!r} (rows that broke it were redrawn)",
                file=sys.stderr,
            )
        for g in getattr(model, "date_gaps_", ()):
            print(
                f"ehrsynth: {g.column!r} is modelled as days after {g.anchor!r} (its row above compares those days)",
                file=sys.stderr,
            )
    if warn:
        summary.warn()
    return summary.to_dict()


def run_fit(args: argparse.Namespace) -> int:
    model, data, _ = _fit(args)
    model.save(args.output, long_input=data.long)
    report_privacy(model)
    print(f"ehrsynth: saved model to {args.output}", file=sys.stderr)
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from ehrsynth.cli._pipeline import check_output, write_output
    from ehrsynth.estimator import load

    check_output(args.output)
    model = load(args.model_dir, device=args.device)
    out = model.sample(args.rows, random_state=args.seed, match_row_sizes=args.match_row_sizes)
    summary = _fidelity(model, out, args, warn=True)
    side = write_output(out, args.output, model, model.long_input_, args.wide, extra={"fidelity": summary})
    report_privacy(model)
    print(f"ehrsynth: wrote {args.output} ({len(out)} synthetic rows) and {side}", file=sys.stderr)
    return 0
