"""`ehrsynth audit`: test a synthetic table against the real training data and a real holdout.

Exit codes: 0 when the verdict is below ``--fail-on``; 3 at or above it; 2 bad input (one line, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ehrsynth.cli._common import positive_int as _positive_int

EXIT_FAIL = 3
FAIL_ON = ("low", "medium", "high", "never")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="privacy audit of a synthetic table against training data and a holdout",
        description=(
            "Run membership, attribute-inference and singling-out attacks on training records and, as the "
            "control, on holdout records never used in training; report a low/medium/high verdict."
        ),
    )
    p.add_argument(
        "--train", required=True, metavar="TRAIN", help="real training table (.csv, .csv.gz, .parquet)"
    )
    p.add_argument("--holdout", required=True, metavar="HOLDOUT", help="real records never used in training")
    p.add_argument("--synthetic", required=True, metavar="SYNTH", help="the synthetic table to audit")
    p.add_argument(
        "--schema", metavar="F", help="schema JSON (from `ehrsynth schema`) declaring column kinds"
    )
    p.add_argument(
        "--quasi-identifiers", metavar="C1,C2", help="columns an attacker knows (default: automatic)"
    )
    p.add_argument("--sensitive", metavar="C1,C2", help="attributes to protect (default: the rarest codes)")
    p.add_argument("--json", metavar="OUT.json", help="write the full report as JSON (atomically)")
    p.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report (atomically)")
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="high",
        help="exit with code 3 when the verdict is at or above this level (default: high)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0; the audit is reproducible)")
    p.add_argument(
        "--bootstrap", type=_positive_int, default=1000, help="bootstrap replicates (default 1000)"
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to compute distances (default auto)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ehrsynth.cli._common import check_file_output, refuse_input_as_output
    from ehrsynth.privacy import audit

    for out in (args.json, args.html):
        if out:
            check_file_output(out)  # fail before the (long) audit, not after
    refuse_input_as_output([args.json, args.html], [args.train, args.holdout, args.synthetic, args.schema])
    report = audit(
        args.train,
        args.holdout,
        args.synthetic,
        schema=args.schema,
        quasi_identifiers=args.quasi_identifiers,
        sensitive=args.sensitive,
        random_state=args.seed,
        n_bootstrap=args.bootstrap,
        device=args.device,
    )
    if args.json:
        report.save_json(args.json)
    if args.html:
        report.save_html(args.html)
    print(f"verdict: {report.verdict}")
    for attack, level in report.verdicts.items():
        print(f"  {attack}: {level}")
    for line in report.summary()[1:]:
        print(f"  {line}")
    for out in (args.json, args.html):
        if out:
            print(f"wrote {out}")
    if report.fails(args.fail_on):
        print(f"verdict {report.verdict} is at or above --fail-on {args.fail_on}", file=sys.stderr)
        return EXIT_FAIL
    return 0
