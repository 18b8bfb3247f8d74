"""CSV formula-injection neutralisation (OWASP "CSV injection").

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula (``=HYPERLINK(...)``, ``-2+3+cmd|' /C calc'!A0``). Released category values and column names are
text an analyst will open in a spreadsheet, so when writing CSV every such *text* cell and header gets a single
quote in front (OWASP's rule). Plain numbers written as text (``-3``, ``-2.5``, ``+1e5``) are left alone, and
numeric columns are never touched, so ``-3`` stays a number.

The transformation is exactly undone by :func:`restore_text`: a value that already starts with quotes followed
by a trigger character gets one more quote, and reading strips exactly one, so every string round-trips.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

TRIGGERS = "=+-@\t\r"
_NEEDS_QUOTE = re.compile(r"^'*[=+\-@\t\r]")
_QUOTED = re.compile(r"^'+[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise_text(value: str) -> str:
    """``value`` with a leading single quote when a spreadsheet would run it as a formula."""
    if _NEEDS_QUOTE.match(value) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def restore_text(value: str) -> str:
    """The inverse of :func:`neutralise_text`."""
    return value[1:] if _QUOTED.match(value) else value


def _is_text_column(s: pd.Series) -> bool:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.categories.dtype == object or pd.api.types.is_string_dtype(s.cat.categories)
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def neutralise_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """A copy of ``df`` safe to open in a spreadsheet; also the (original) names of the text columns that had
    a cell changed and of the headers that were changed."""
    out = df.copy(deep=False)
    columns: list[str] = []
    for name in df.columns:
        s = df[name]
        if not _is_text_column(s):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = [neutralise_text(c) if isinstance(c, str) else c for c in s.cat.categories]
            if cats != list(s.cat.categories):
                out[name] = s.cat.rename_categories(cats)
                columns.append(str(name))
            continue
        mapped = s.map(lambda v: neutralise_text(v) if isinstance(v, str) else v, na_action="ignore")
        if not mapped.equals(s):
            out[name] = mapped.astype(s.dtype)
            columns.append(str(name))
    headers = [str(c) for c in df.columns if isinstance(c, str) and neutralise_text(c) != c]
    out.columns = pd.Index([neutralise_text(c) if isinstance(c, str) else c for c in df.columns])
    return out, columns, headers


def restore_frame(df: pd.DataFrame, columns: list[str], headers: bool) -> pd.DataFrame:
    """Undo :func:`neutralise_frame` on a frame read back with string cells."""
    if headers:
        df.columns = pd.Index([restore_text(c) if isinstance(c, str) else c for c in df.columns])
    for name in columns:
        if name in df.columns:
            df[name] = df[name].map(_restore_any, na_action="ignore")
    return df


def _restore_any(value: Any) -> Any:
    return restore_text(value) if isinstance(value, str) else value
