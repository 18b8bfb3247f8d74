"""Reading user tables (.csv, .csv.gz, .parquet) and writing/reading typed synthetic tables."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from ehrsynth.errors import InvalidDataError, UnsupportedFileError

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise UnsupportedFileError(
        f"unsupported file type for {str(path)!r}; allowed: {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}"
    )


def _require_pyarrow(what: str) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise UnsupportedFileError(
            f"{what} needs pyarrow; install it with `pip install ehrsynth[parquet]` or use .csv"
        ) from exc


def read_table(
    path: str | os.PathLike[str], *, dtype: str | None = None, na_values: list[str] | None = None
) -> pd.DataFrame:
    """Read a user table. Missing values: empty cells, ``NA``/``NaN`` and ``?`` (common in EHR extracts).

    ``dtype="str"`` keeps every cell as a string (for code tables with leading zeros).
    """
    p = Path(path)
    kind = _kind(p)
    if not p.is_file():
        raise InvalidDataError(f"input file {str(p)!r} does not exist")
    if kind == "parquet":
        _require_pyarrow("reading parquet")
        df = pd.read_parquet(p)
    else:
        try:
            df = pd.read_csv(
                p,
                dtype=dtype,
                na_values=["?"] + (na_values or []),
                keep_default_na=True,
                low_memory=False,
            )
        except pd.errors.EmptyDataError as exc:
            raise InvalidDataError(f"input file {str(p)!r} is empty; it needs a header and rows") from exc
        except UnicodeDecodeError as exc:
            raise UnsupportedFileError(f"input file {str(p)!r} is not UTF-8 text CSV") from exc
    logger.debug("read %s: %d rows x %d columns", p, len(df), df.shape[1])
    return df
