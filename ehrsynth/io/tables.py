"""Reading user tables (.csv, .csv.gz, .parquet) and checking them before any work is done.

Every problem with the file itself is an :class:`~ehrsynth.errors.InvalidDataError` (exit 2 in the CLI) that names
the file and the problem: a missing or empty file, a truncated or non-gzip ``.csv.gz``, a truncated or fake
parquet file, a ragged CSV (a row with more fields than the header), text that is not UTF-8, duplicate or empty
header cells (pandas would silently rename them ``age.1`` / ``Unnamed: 0``), and a ``;``- or tab-separated file
that would be read as one column. :func:`check_dates` refuses dates that would be misread (``DD.MM.YYYY``,
day-first ``DD/MM/YYYY``) and date columns holding values that are not dates.
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ehrsynth.errors import InvalidDataError, UnsupportedFileError

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
PARQUET_SUFFIXES = (".parquet", ".pq")
OTHER_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/\d{4}( \d{1,2}:\d{2}(:\d{2})?)?$")
DAY_FIRST_DATE = re.compile(r"^\d{1,2}[.-]\d{1,2}[.-]\d{4}( \d{1,2}:\d{2}(:\d{2})?)?$")
ISO_HINT = "write dates as ISO 8601 (YYYY-MM-DD)"


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


def _read_parquet(p: Path) -> pd.DataFrame:
    _require_pyarrow("reading parquet")
    import pyarrow as pa

    try:
        return pd.read_parquet(p)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidDataError(
            f"input file {str(p)!r} is not a readable parquet file (truncated, damaged or another format: "
            f"{str(exc).splitlines()[0][:160]}); re-export it or use .csv"
        ) from exc


def _csv(p: Path, **kwargs: object) -> pd.DataFrame:
    """``pd.read_csv`` with every file-level failure turned into our error."""
    try:
        return pd.read_csv(p, **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise InvalidDataError(f"input file {str(p)!r} is empty; it needs a header and rows") from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")
        raise InvalidDataError(
            f"input file {str(p)!r} is not a well-formed CSV ({detail}); every row needs as many fields as the "
            "header — fix the file (quote fields that contain commas)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise UnsupportedFileError(f"input file {str(p)!r} is not UTF-8 text CSV") from exc
    except (EOFError, zlib.error, OSError) as exc:  # truncated or not really compressed (BadGzipFile, ...)
        raise InvalidDataError(
            f"input file {str(p)!r} cannot be decompressed ({type(exc).__name__}: {exc}); the file is truncated "
            "or its suffix does not match its content — re-create it, or rename a plain CSV to .csv"
        ) from exc
    except Exception as exc:  # zipfile.BadZipFile, lzma.LZMAError, bz2's OSError/ValueError
        if type(exc).__name__ in ("BadZipFile", "LZMAError"):
            raise InvalidDataError(
                f"input file {str(p)!r} cannot be decompressed ({type(exc).__name__}: {exc})"
            ) from exc
        raise


def check_header(p: Path, header: Sequence[object], n_columns: int) -> None:
    """Refuse duplicate or empty header cells and a file that is separated by something other than commas."""
    cells = ["" if pd.isna(c) else str(c) for c in header]
    empty = [i + 1 for i, c in enumerate(cells) if not c.strip()]
    if empty:
        raise InvalidDataError(
            f"input file {str(p)!r} has an empty header cell in column position(s) {empty[:10]} (pandas would name "
            "it 'Unnamed: ...'; often a saved row index); give every column a name or drop the unnamed column "
            "(e.g. write the table with index=False)"
        )
    counts = Counter(cells)
    names = sorted(c for c, k in counts.items() if k > 1)
    if names:
        raise InvalidDataError(
            f"input file {str(p)!r} has duplicate column names {names[:10]} (pandas would rename them "
            f"'{names[0]}.1', ...); give every column a unique name",
            column=names[0],
        )
    if n_columns == 1:
        for sep, what in OTHER_SEPARATORS.items():
            if sep in cells[0]:
                raise InvalidDataError(
                    f"input file {str(p)!r} was read as one column named {cells[0][:60]!r}: it looks "
                    f"{what}-separated; ehrsynth reads comma-separated CSV — convert it, e.g. "
                    f"pandas.read_csv(f, sep={sep!r}).to_csv(out, index=False)"
                )


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
        df = _read_parquet(p)
        check_header(p, list(df.columns), df.shape[1])
    else:
        raw = _csv(p, header=None, nrows=1, dtype=str, keep_default_na=False)
        df = _csv(p, dtype=dtype, na_values=["?"] + (na_values or []), keep_default_na=True, low_memory=False)
        check_header(p, raw.iloc[0].tolist(), df.shape[1])
    logger.debug("read %s: %d rows x %d columns", p, len(df), df.shape[1])
    return df


def _date_problem(name: str, strings: pd.Series, date_named: bool) -> str | None:
    """Why the text column ``name`` holds dates that would be misread or mixed with non-dates (or None)."""
    if len(strings) == 0:
        return None
    iso = strings.str.match(ISO_DATE)
    slash = strings.str.extract(SLASH_DATE)
    is_slash = slash[0].notna()
    day_first = strings.str.match(DAY_FIRST_DATE)
    datey = iso | is_slash | day_first
    share = float(datey.mean())
    if date_named and share == 0:
        return (
            f"is named like a date (so it is modelled as a date under differential privacy) but holds no "
            f"dates, e.g. {strings.iloc[0]!r}; rename the column if it is not a date"
        )
    if share < 0.5 and not date_named:
        return None
    if day_first.any():
        example = strings[day_first].iloc[0]
        return f"holds day-first dates such as {example!r}, which would be misread or not read as dates"
    if is_slash.any():
        first, second = slash[0][is_slash].astype(int), slash[1][is_slash].astype(int)
        if (first > 12).any():
            example = strings[is_slash][first > 12].iloc[0]
            return (
                f"holds day-first dates such as {example!r} (MM/DD/YYYY is assumed), which would be misread"
            )
        if (second > 31).any():
            return f"holds slash-separated values that are not dates, e.g. {strings[is_slash].iloc[0]!r}"
    if not datey.all():
        bad = strings[~datey]
        return f"holds dates but also {len(bad)} value(s) that are not dates, e.g. {bad.iloc[0]!r}"
    parsed = pd.to_datetime(strings, errors="coerce", format="mixed")
    if parsed.isna().any():
        return f"holds impossible dates such as {strings[parsed.isna()].iloc[0]!r}"
    return None


def check_dates(df: pd.DataFrame, *, date_names: re.Pattern[str] | None = None) -> None:
    """Refuse text columns of dates that would be misread: ``DD.MM.YYYY`` and day-first ``DD/MM/YYYY`` dates,
    impossible dates, and date columns (mostly dates, or named like a date by ``date_names``) holding values
    that are not dates. Raised at read time, so that no training starts on a column that cannot be parsed."""
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        if pd.api.types.is_bool_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
            continue
        strings = s.dropna().astype(str).str.strip()
        date_named = bool(date_names is not None and date_names.search(str(name)))
        problem = _date_problem(str(name), strings, date_named)
        if problem is not None:
            raise InvalidDataError(
                f"column {name!r} {problem}; {ISO_HINT}, e.g. pandas.to_datetime(s, format='%d.%m.%Y')"
                ".dt.strftime('%Y-%m-%d'), and blank values that are not dates",
                column=str(name),
            )
