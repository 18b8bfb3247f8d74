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


def check_paths(args: argparse.Namespace) -> None:
    """Every output of `synthesize`/`fit`, checked before reading or training: a table output is a file in an
    existing directory, a model directory is new, empty or a model directory, and no output is an input."""
    from ehrsynth.cli._common import check_model_dir_output, refuse_input_as_output

    inputs = [args.input, getattr(args, "schema", None)]
    if getattr(args, "command", None) == "fit":
        check_model_dir_output(args.output)
        refuse_input_as_output([args.output], inputs)
        return
    check_output(args.output)
    save_model = getattr(args, "save_model", None)
    if save_model:
        check_model_dir_output(save_model)
    refuse_input_as_output([args.output, save_model], inputs)


def check_input_dates(frame: pd.DataFrame, *, dp: bool) -> None:
    """Refuse misread dates before training (a DD.MM.YYYY column under DP used to fail after a full run)."""
    from ehrsynth.io.tables import check_dates

    date_names = None
    if dp:  # DP discovery models text columns named like dates as dates: they must hold dates
        from ehrsynth.dp.discovery import DATE_NAMES

        date_names = DATE_NAMES
    check_dates(frame, date_names=date_names)


def read_input(args: argparse.Namespace) -> Input:
    check_paths(args)  # here too, so that `fit` (which does not call check_output) fails before any work
    if not args.long:
        frame = read_table(args.input)
        check_input_dates(frame, dp=not getattr(args, "no_dp", False))
        return Input(frame)
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


def check_output(path: str, inputs: tuple[str, ...] = ()) -> None:
    """A synthetic table to write: a supported suffix, not a directory, an existing parent, not an input."""
    from ehrsynth.cli._common import check_file_output, refuse_input_as_output
    from ehrsynth.io.tables import _kind

    _kind(Path(path))
    check_file_output(path)
    refuse_input_as_output([path], inputs)


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
    notes = list(getattr(model, "release_notes_", ()))
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
        return write_synthetic(
            long_df, path, schema=schema, privacy=privacy, layout="long", extra=extra, release_notes=notes
        )
    return write_synthetic(
        out, path, schema=schema, privacy=privacy, layout="wide", extra=extra, release_notes=notes
    )
