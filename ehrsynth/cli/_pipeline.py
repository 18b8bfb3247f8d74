"""The work behind `synthesize`, `fit` and `sample`: read input (wide or long), fit, sample, write."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ehrsynth.errors import InvalidParameterError
from ehrsynth.io.tables import read_table

logger = logging.getLogger(__name__)
LONG_PATIENT = "patient_id"


@dataclass
class Input:
    frame: pd.DataFrame
    code_columns: list[str] = field(default_factory=list)
    long: dict[str, object] | None = None  # how to write the long format back


def read_input(args: argparse.Namespace) -> Input:
    if not args.long:
        return Input(read_table(args.input))
    if not args.patient or not args.code:
        raise InvalidParameterError("--long needs --patient COL and --code COL")
    from ehrsynth.codes import to_matrix

    long_df = read_table(args.input, dtype="str")
    wide = to_matrix(
        long_df, patient=args.patient, code=args.code, counts=args.counts, grouping=args.grouping
    )
    codes = [str(c) for c in wide.columns]
    wide = wide.reset_index(drop=True)
    wide.columns = codes
    layout = {
        "patient": args.patient,
        "code": args.code,
        "counts": bool(args.counts),
        "grouping": args.grouping,
    }
    return Input(wide, codes, layout)


def check_output(path: str) -> None:
    from ehrsynth.io.atomic import ensure_parent
    from ehrsynth.io.tables import _kind

    _kind(Path(path))
    ensure_parent(Path(path))


def write_output(
    out: pd.DataFrame,
    path: str,
    model: object,
    long: dict[str, object] | None,
    wide: bool,
    extra: dict[str, object] | None = None,
) -> Path:
    from ehrsynth.io.synthetic import write_synthetic

    schema = model.schema_  # type: ignore[attr-defined]
    privacy = model.privacy_.to_dict()  # type: ignore[attr-defined]
    if long is not None and not wide:
        from ehrsynth.codes import to_long
        from ehrsynth.transforms.table import surrogate_ids

        matrix = out.copy()
        matrix.index = pd.Index(surrogate_ids(len(matrix)), name=str(long["patient"]))
        long_df = to_long(
            matrix, patient=str(long["patient"]), code=str(long["code"]), counts=bool(long["counts"])
        )
        extra = {
            **(extra or {}),
            "long": {
                **long,
                "patient_ids": "fresh surrogate ids from 900000000001; not taken from the input",
            },
        }
        return write_synthetic(long_df, path, schema=schema, privacy=privacy, layout="long", extra=extra)
    return write_synthetic(out, path, schema=schema, privacy=privacy, layout="wide", extra=extra)
