"""Loading and checking the three audit tables (train, holdout, synthetic).

Tables may be DataFrames or paths (.csv, .csv.gz, .parquet, read with :func:`ehrsynth.io.tables.read_table`).
Checks, each a one-line :class:`~ehrsynth.errors.InvalidDataError` naming the problem: empty tables, fewer than
:data:`MIN_ROWS` rows, different column sets (the differences are listed), and columns whose dtypes disagree
between tables (numbers in one, text in another).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.column_sets import column_difference, describe_difference
from ehrsynth.errors import InvalidDataError
from ehrsynth.privacy.columns import numeric_blocks

logger = logging.getLogger(__name__)

#: Fewer rows than this in any table is refused: no interval would mean anything.
MIN_ROWS = 50
#: Holdout smaller than this fraction of train is "much smaller": members are subsampled to its size.
SMALL_HOLDOUT_RATIO = 0.5
ROLES = ("train", "holdout", "synthetic")

TableLike = pd.DataFrame | str | os.PathLike[str]


@dataclass
class LoadedTable:
    """A table with where it came from and a fingerprint for the report."""

    role: str
    frame: pd.DataFrame
    source: str
    sha256: str

    def describe(self) -> dict[str, Any]:
        return {
            "rows": len(self.frame),
            "columns": self.frame.shape[1],
            "sha256": self.sha256,
            "source": self.source,
        }


def frame_sha256(df: pd.DataFrame) -> str:
    """Fingerprint of an in-memory table: sha256 over column names, dtypes and values (numeric columns as raw
    bytes, others through pandas' stable value hashes)."""
    digest = hashlib.sha256()
    for name in df.columns:
        s = df[name]
        digest.update(f"{name}\x1f{s.dtype}\x1e".encode())
        values = s.to_numpy()
        if values.dtype.kind in "biufcmM":
            digest.update(np.ascontiguousarray(values).tobytes())
        else:
            digest.update(pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def load_table(table: Any, role: str) -> LoadedTable:
    """Read a path or accept a DataFrame; the sha256 is of the file, or of the rows for a DataFrame."""
    if isinstance(table, pd.DataFrame):
        return LoadedTable(role, table, "<DataFrame>", frame_sha256(table))
    if isinstance(table, (str, os.PathLike)):
        from ehrsynth.fsutil.atomic import sha256_file
        from ehrsynth.io.tables import read_table

        df = read_table(table)
        return LoadedTable(role, df, Path(table).name, sha256_file(table))
    raise InvalidDataError(
        f"the {role} table must be a pandas DataFrame or a path to a .csv/.parquet file, "
        f"found {type(table).__name__}"
    )


def _dtype_family(s: pd.Series) -> str:
    if isinstance(s.dtype, pd.CategoricalDtype):  # e.g. a synthesizer's typed output: judge by the categories
        categories = s.cat.categories
        if len(categories) == 0:
            return "empty"
        return _dtype_family(pd.Series(categories))
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if s.isna().all():
        return "empty"
    return "text"


def check_tables(train: LoadedTable, holdout: LoadedTable, synthetic: LoadedTable) -> list[str]:
    """Validate the three tables; reorder holdout and synthetic columns like train. Returns the column names."""
    tables = (train, holdout, synthetic)
    for t in tables:
        df = t.frame
        if df.shape[1] == 0 or len(df) == 0:
            raise InvalidDataError(
                f"the {t.role} table ({t.source}) is empty ({len(df)} rows x {df.shape[1]} columns); "
                "it needs a header and rows"
            )
        if len(df) < MIN_ROWS:
            raise InvalidDataError(
                f"the {t.role} table ({t.source}) has {len(df)} rows; an audit needs at least {MIN_ROWS} rows "
                "in each of train, holdout and synthetic to give meaningful intervals"
            )
        bad = [c for c in df.columns if not isinstance(c, str) or not c]
        if bad:
            raise InvalidDataError(
                f"the {t.role} table has non-string column names {bad[:5]!r}; rename them to non-empty strings",
                column=str(bad[0]),
            )
        dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
        if dupes:
            raise InvalidDataError(
                f"the {t.role} table has duplicate column names {dupes}; make them unique", column=dupes[0]
            )
    columns = list(train.frame.columns)
    reference = set(columns)
    for t in (holdout, synthetic):
        other = set(t.frame.columns)
        if other != reference:
            missing, extra = column_difference(columns, t.frame.columns)
            diff = describe_difference(
                missing, extra, missing_label=f"missing from {t.role}", extra_label=f"only in {t.role}"
            )
            raise InvalidDataError(
                f"train and {t.role} have different column sets ({diff}); the three tables must "
                "have the same columns — drop or rename columns so that they match",
                column=(missing or extra)[0],
            )
        if list(t.frame.columns) != columns:
            t.frame = t.frame.loc[:, columns]
    family_of = [{n: _dtype_family(t.frame[n]) for n in columns} for t in tables]
    for name in columns:
        families = {t.role: fam[name] for t, fam in zip(tables, family_of, strict=True)}
        if len({f for f in families.values() if f != "empty"}) > 1:
            found = ", ".join(f"{t.role}: {families[t.role]} ({t.frame[name].dtype})" for t in tables)
            raise InvalidDataError(
                f"column {name!r} has disagreeing dtypes ({found}); convert it to the same type in all three "
                "tables (e.g. numbers everywhere, or text everywhere)",
                column=name,
            )
    for t in tables:
        floats = [n for n in columns if pd.api.types.is_float_dtype(t.frame[n])]  # only floats hold inf
        for cols, block in numeric_blocks([t.frame], floats, dtype=np.float64):
            bad = np.isinf(block).any(axis=0)
            if bad.any():
                name = cols[int(np.flatnonzero(bad)[0])]
                raise InvalidDataError(
                    f"column {name!r} of the {t.role} table contains infinite values; replace them with missing "
                    "values or finite numbers",
                    column=name,
                )
    return columns
