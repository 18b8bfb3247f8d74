"""`ehrsynth schema INPUT [-o schema.json]`: infer a schema (non-private) for the user to edit and pass back."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "schema",
        help="infer a schema from INPUT (reads the data: not private) to edit and pass back with --schema",
    )
    p.add_argument("input", help="table: .csv, .csv.gz or .parquet")
    p.add_argument("-o", "--output", help="write the schema JSON here (default: stdout)")
    p.add_argument("--max-categories", type=int, default=1000, help="most distinct values of a categorical")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ehrsynth.cli._common import refuse_input_as_output
    from ehrsynth.io.tables import read_table
    from ehrsynth.schema import Schema

    refuse_input_as_output([args.output], [args.input])
    schema = Schema.infer(read_table(args.input), max_categories=args.max_categories)
    if args.output:
        schema.save(args.output)
        print(f"ehrsynth: wrote schema with {len(schema)} columns to {args.output}", file=sys.stderr)
    else:
        print(schema.to_json())
    return 0
