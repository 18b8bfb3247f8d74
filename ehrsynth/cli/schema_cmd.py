"""`ehrsynth schema INPUT [-o schema.json] [--with-values]`: write the column kinds to edit and pass back.

By default only names, kinds and dtypes are written: passing that file back with ``--schema`` fixes the kinds,
and under DP the values (categories, numeric distributions, missing rates) are still released privately. With
``--with-values`` the categories and bounds read from the data are written too, and the file is marked
``"data_derived": true``: a DP fit refuses it unless ``--schema-is-public`` states that those values are public.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "schema",
        help="write the column kinds of INPUT (names, kinds, dtypes) to edit and pass back with --schema",
        description="Write the column kinds of INPUT (names, kinds, dtypes; nothing read from the values) to "
        "edit and pass back with --schema; --with-values also writes categories and bounds (not private).",
    )
    p.add_argument("input", help="table: .csv, .csv.gz or .parquet")
    p.add_argument("-o", "--output", help="write the schema JSON here (default: stdout)")
    p.add_argument(
        "--with-values",
        action="store_true",
        help="also write the categories and bounds read from the data (NOT private; the file is marked "
        "data_derived and a DP fit refuses it unless --schema-is-public)",
    )
    p.add_argument(
        "--max-categories",
        type=int,
        default=1000,
        help="most distinct values of a categorical (default 1000)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ehrsynth.cli._common import refuse_input_as_output
    from ehrsynth.io.tables import read_table
    from ehrsynth.schema import Schema

    refuse_input_as_output([args.output], [args.input])
    schema = Schema.infer(read_table(args.input), max_categories=args.max_categories)
    if args.with_values:
        schema.data_derived = True
    else:
        schema = schema.kinds_only()
    what = "kinds and values (data-derived)" if args.with_values else "kinds"
    if args.output:
        schema.save(args.output)
        print(f"ehrsynth: wrote the {what} of {len(schema)} columns to {args.output}", file=sys.stderr)
    else:
        print(schema.to_json())
    return 0
