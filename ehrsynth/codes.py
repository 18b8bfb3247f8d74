"""Long-format (patient, code) tables ⇄ patient × code matrices, and ICD-9-CM grouping.

EHR extracts store diagnoses in *long* format: one row per (patient, code), e.g. MIMIC-III's
``DIAGNOSES_ICD.csv`` (``subject_id``, ``icd9_code``). medGAN models a *wide* patient × code matrix.
:func:`to_matrix` builds the matrix and :func:`to_long` is its exact inverse.

Codes are strings. Read code files with ``dtype=str``: ICD-9 codes have leading zeros (``"0389"`` is
septicemia, category 038; read as a number it becomes 389, a different disease). Grouping to a number
column is refused for that reason.

ICD-9-CM grouping (``grouping="icd9_3digit"``, the medGAN reference: "codes grouped to 3 digits
(E-codes 4)"), implemented by :func:`group_icd9`:

- whitespace is stripped and letters upper-cased;
- numeric codes keep their first 3 digits: ``"0389"`` → ``"038"``, ``"250.01"`` → ``"250"`` (with a dot,
  the digits before the dot are the category, zero-padded to 3: ``"38.9"`` → ``"038"``);
- numeric codes of 1–2 digits without a dot are taken as codes whose leading zeros were lost upstream
  (the UCI diabetes130 file writes 008 as ``"8"``) and zero-padded: ``"8"`` → ``"008"``;
- V codes keep ``V`` + 2 digits: ``"V5867"`` → ``"V58"``, ``"V09.0"`` → ``"V09"``;
- E codes keep ``E`` + 3 digits: ``"E8889"`` → ``"E888"``, ``"E888.9"`` → ``"E888"``;
- anything else (ICD-10 codes, free text) raises :class:`~ehrsynth.errors.InvalidDataError`.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import DataFidelityWarning, InvalidDataError, InvalidParameterError

logger = logging.getLogger(__name__)

GROUPINGS: tuple[str, ...] = ("icd9_3digit",)

_ICD9 = re.compile(r"^(?:(?P<e>E\d+)|(?P<v>V\d+)|(?P<n>\d+))(?:\.(?P<frac>\d{0,2}))?$")
_ICD9_HELP = (
    "allowed ICD-9-CM diagnosis codes: 1-5 digits ('0389', '250.01', '8'), V + 2-4 digits ('V5867', "
    "'V58.67') or E + 3-4 digits ('E8889', 'E888.9'); fix or drop these values, or pass grouping=None"
)


def _group_or_none(code: str) -> str | None:
    """3-digit ICD-9 category of ``code``, or None when it is not an ICD-9-CM diagnosis code."""
    s = code.strip().upper()
    m = _ICD9.match(s)
    if m is None:
        return None
    dotted = m.group("frac") is not None
    if m.group("e") is not None:
        digits = m.group("e")[1:]
        ok = len(digits) == 3 if dotted else 3 <= len(digits) <= 4
        return "E" + digits[:3] if ok else None
    if m.group("v") is not None:
        digits = m.group("v")[1:]
        ok = len(digits) == 2 if dotted else 2 <= len(digits) <= 4
        return "V" + digits[:2] if ok else None
    digits = m.group("n")
    if dotted:
        return digits.zfill(3) if len(digits) <= 3 else None
    if len(digits) > 5:
        return None
    return digits[:3] if len(digits) >= 3 else digits.zfill(3)


def group_icd9(code: str) -> str:
    """Group one ICD-9-CM diagnosis code to its 3-digit category (E codes: ``E`` + 3 digits).

    >>> [group_icd9(c) for c in ["0389", "250.01", "V5867", "E8889", "8"]]
    ['038', '250', 'V58', 'E888', '008']

    Raises :class:`~ehrsynth.errors.InvalidDataError` for a value that is not an ICD-9-CM diagnosis code.
    """
    if not isinstance(code, str):
        raise InvalidDataError(
            f"ICD-9 code {code!r} is a {type(code).__name__}, not a string; read code columns with dtype=str "
            "so leading zeros are kept ('0389' is not 389)"
        )
    grouped = _group_or_none(code)
    if grouped is None:
        raise InvalidDataError(f"{code!r} is not an ICD-9-CM diagnosis code; {_ICD9_HELP}")
    return grouped


def group_icd9_series(s: pd.Series) -> pd.Series:
    """Vectorised :func:`group_icd9`: same index and name, object dtype; missing or blank → missing.

    Each distinct value is grouped once, so this is fast on long tables with few distinct codes.
    Raises :class:`~ehrsynth.errors.InvalidDataError` naming the series and listing bad values.
    """
    column = None if s.name is None else str(s.name)
    idx, grouped = _clean_codes(s, column, "icd9_3digit")
    out = np.asarray([*grouped, None], dtype=object)[idx]  # index -1 (missing) picks the trailing None
    result = pd.Series(out, index=s.index, name=s.name, dtype=object)
    return result.where(result.notna(), np.nan)


def _raise_bad_codes(bad: Sequence[Any], column: str | None) -> None:
    shown = ", ".join(repr(b) for b in list(bad)[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    where = f"column {column!r}" if column is not None else "the codes"
    raise InvalidDataError(
        f"{where} holds {len(bad)} distinct value(s) that are not ICD-9-CM diagnosis codes: {shown}{more}; "
        f"{_ICD9_HELP}",
        column=column,
    )


def _reject_numeric(s: pd.Series, column: str | None) -> None:
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        raise InvalidDataError(
            f"code column {column!r} holds numbers ({s.dtype}), so ICD-9 leading zeros are already lost "
            "('0389' read as 389); read the file with dtype=str (read_table(path, dtype='str'))",
            column=column,
        )


def _as_code_strings(s: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Factorize a code column into (index per row, cleaned string per distinct value or None)."""
    if pd.api.types.is_float_dtype(s.dtype):
        nonmissing = s.dropna()
        if bool((nonmissing == np.floor(nonmissing)).all()):
            s = s.astype("Int64")
    idx, uniques = pd.factorize(s, use_na_sentinel=True)
    cleaned: list[str | None] = []
    for u in uniques:
        text = str(u).strip()
        cleaned.append(text if text else None)
    return idx, cleaned


def _clean_codes(
    s: pd.Series, column: str | None, grouping: str | None
) -> tuple[np.ndarray, list[str | None]]:
    if grouping is None:
        return _as_code_strings(s)
    _reject_numeric(s, column)
    idx, uniques = pd.factorize(s, use_na_sentinel=True)
    grouped: list[str | None] = []
    bad: list[Any] = []
    for u in uniques:
        text = u.strip() if isinstance(u, str) else None
        if text == "":
            grouped.append(None)  # blank cell: a missing code
            continue
        g = _group_or_none(text) if text is not None else None
        if g is None:
            bad.append(u)
        grouped.append(g)
    if bad:
        _raise_bad_codes(bad, column)
    return idx, grouped


def _check_column(df: pd.DataFrame, name: str, role: str) -> None:
    if name in df.columns:
        return
    same_case = [str(c) for c in df.columns if str(c).lower() == str(name).lower()]
    hint = f"did you mean {same_case[0]!r} (names are case-sensitive)? " if same_case else ""
    cols = ", ".join(repr(c) for c in list(df.columns)[:20])
    raise InvalidDataError(
        f"{role} column {name!r} not found; {hint}the table has columns {cols}; "
        f"pass the right name with {role}=",
        column=name,
    )


def _unique_index(values: Sequence[Any] | pd.Index, what: str) -> pd.Index:
    index = pd.Index(values)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise InvalidParameterError(f"{what} has duplicate values {dup}; give each value once")
    return index


def to_matrix(
    long_df: pd.DataFrame,
    *,
    patient: str,
    code: str,
    counts: bool = False,
    grouping: str | None = None,
    vocabulary: Sequence[str] | None = None,
    prefix: str = "",
    patients: Sequence[Any] | pd.Index | None = None,
) -> pd.DataFrame:
    """Patient × code matrix from a long table with one row per (patient, code).

    Parameters
    ----------
    long_df:
        The long table; other columns (admission id, sequence number, ...) are ignored.
    patient, code:
        Names of the patient-id and code columns. Codes are used as strings; leading whitespace is
        stripped and blank or missing codes are dropped. Rows without a patient id are dropped (logged).
    counts:
        False: values are 0/1 (``uint8``): did the patient ever have the code. True: values are the number
        of rows with that (patient, code) after grouping (``int32``), e.g. admissions with the diagnosis.
    grouping:
        None (codes as given) or ``"icd9_3digit"`` (see the module docstring and :func:`group_icd9`).
    vocabulary:
        The codes (after grouping, without ``prefix``) to use as columns, in this order. A code of the
        vocabulary absent from the data gives an all-zero column; a code in the data but not in the
        vocabulary is dropped and counted in a log message. Default: every code found, sorted.
    prefix:
        Prepended to each column name (``"dx_"`` → ``dx_250``).
    patients:
        The patient ids to use as rows, in this order. A patient without codes gets an all-zero row; rows
        of ids not listed are dropped (logged). Default: every patient with at least one code, sorted.

    Returns
    -------
    DataFrame indexed by patient id (index named ``patient``), one column per code.
    """
    _check_matrix_args(long_df, patient, code, grouping)
    code_idx, code_values = _clean_codes(long_df[code], code, grouping)
    p_idx, row_index = _patient_rows(long_df[patient], patient, patients)
    columns, c_idx = _code_columns(code_idx, code_values, p_idx, vocabulary, code)
    if patients is None:  # keep only patients with at least one kept code
        p_idx, row_index = _drop_patients_without_codes(p_idx, c_idx, row_index)
    row_index = row_index.rename(patient)
    matrix = _fill(p_idx, c_idx, (len(row_index), len(columns)), counts)
    return pd.DataFrame(
        matrix, index=row_index, columns=pd.Index([prefix + c for c in columns], dtype=object)
    )


def _check_matrix_args(long_df: Any, patient: str, code: str, grouping: str | None) -> None:
    if not isinstance(long_df, pd.DataFrame):
        raise InvalidDataError(f"to_matrix needs a pandas DataFrame, got {type(long_df).__name__}")
    if grouping is not None and grouping not in GROUPINGS:
        raise InvalidParameterError(
            f"unknown grouping {grouping!r}; allowed: None or {', '.join(repr(g) for g in GROUPINGS)}"
        )
    if patient == code:
        raise InvalidParameterError(f"patient and code name the same column {patient!r}; name two columns")
    _check_column(long_df, patient, "patient")
    _check_column(long_df, code, "code")


def _patient_rows(
    pids: pd.Series, patient: str, patients: Sequence[Any] | pd.Index | None
) -> tuple[np.ndarray, pd.Index]:
    """(row position per long row, -1 for a dropped row; the row index): the ``patients`` given, else every
    patient id found, sorted when the ids can be ordered."""
    missing_pid = pids.isna().to_numpy()
    if missing_pid.any():
        warnings.warn(  # no count: under DP the number of such rows is itself private
            f"rows without a patient id in {patient!r} were dropped; fill the id to keep them",
            DataFidelityWarning,
            stacklevel=3,  # the caller of to_matrix
        )
    if patients is not None:
        row_index = _unique_index(patients, "patients")
        p_idx = row_index.get_indexer(pd.Index(pids))
        unlisted = (p_idx < 0) & ~missing_pid
        if unlisted.any():
            logger.info("to_matrix: dropped %d rows of patients not in `patients`", int(unlisted.sum()))
        return p_idx, row_index
    try:
        p_idx, p_uniques = pd.factorize(pids, sort=True, use_na_sentinel=True)
    except TypeError:  # ids of mixed types that cannot be ordered
        p_idx, p_uniques = pd.factorize(pids, sort=False, use_na_sentinel=True)
    return p_idx, pd.Index(p_uniques)


def _code_columns(
    code_idx: np.ndarray,
    code_values: list[str | None],
    p_idx: np.ndarray,
    vocabulary: Sequence[str] | None,
    code: str,
) -> tuple[list[str], np.ndarray]:
    """(the matrix columns; column position per long row: -1 outside the vocabulary, -2 a missing code)."""
    # Several raw codes can share one group; the default columns are the codes of the rows kept.
    used = np.unique(code_idx[(p_idx >= 0) & (code_idx >= 0)])
    final_codes = sorted({c for c in (code_values[i] for i in used) if c is not None})
    if vocabulary is not None:
        vocab = _unique_index(list(vocabulary), "vocabulary")
        if not all(isinstance(v, str) for v in vocab):
            raise InvalidParameterError("vocabulary must hold codes as strings, e.g. ['038', 'V58']")
        columns = [str(v) for v in vocab]
    else:
        columns = final_codes
    col_pos = {c: i for i, c in enumerate(columns)}
    # -1: a code outside the vocabulary; -2: a missing or blank code (the trailing entry serves code_idx -1).
    raw_to_col = np.array([col_pos.get(c, -1) if c is not None else -2 for c in code_values] + [-2])
    c_idx = raw_to_col[code_idx]
    n_missing = int((c_idx == -2).sum())
    if n_missing:
        logger.info("to_matrix: dropped rows with a missing code in %r", code)  # no count: private under DP
    n_outside = int(((c_idx == -1) & (p_idx >= 0)).sum())
    if n_outside:
        outside = [c for c in final_codes if c not in col_pos]
        logger.info(
            "to_matrix: dropped %d rows with %d codes not in the vocabulary (e.g. %s)",
            n_outside,
            len(outside),
            ", ".join(outside[:5]),
        )
    return columns, c_idx


def _drop_patients_without_codes(
    p_idx: np.ndarray, c_idx: np.ndarray, row_index: pd.Index
) -> tuple[np.ndarray, pd.Index]:
    present = np.unique(p_idx[(c_idx >= 0) & (p_idx >= 0)])
    remap = np.full(len(row_index) + 1, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return remap[p_idx], row_index[present]


def _fill(p_idx: np.ndarray, c_idx: np.ndarray, shape: tuple[int, int], counts: bool) -> np.ndarray:
    """The matrix: 0/1 (uint8) or the number of long rows per cell (int32)."""
    keep = (p_idx >= 0) & (c_idx >= 0)
    rows, cols = p_idx[keep], c_idx[keep]
    if counts:
        matrix = np.zeros(shape, dtype=np.int32)
        flat, n = np.unique(rows.astype(np.int64) * shape[1] + cols, return_counts=True)
        matrix.reshape(-1)[flat] = n
    else:
        matrix = np.zeros(shape, dtype=np.uint8)
        matrix[rows, cols] = 1
    return matrix


def to_long(
    matrix_df: pd.DataFrame,
    *,
    patient: str = "patient_id",
    code: str = "code",
    counts: bool = False,
    prefix: str = "",
) -> pd.DataFrame:
    """Inverse of :func:`to_matrix`: one row per (patient, code) with a value > 0.

    The patient id comes from the matrix index. With ``prefix``, only columns whose name starts with it
    are codes (other columns, e.g. demographics, are ignored) and the prefix is removed from the code.
    With ``counts=True`` a (patient, code) with value k gives k identical rows, so
    ``to_matrix(to_long(m, counts=True), counts=True)`` reproduces ``m`` and the long table has the same
    layout as the input of :func:`to_matrix`; with ``counts=False`` each present pair gives one row.
    Rows are ordered by matrix row, then column. Patients with no codes have no row (pass their ids as
    ``patients=`` to :func:`to_matrix` to get them back).
    """
    if not isinstance(matrix_df, pd.DataFrame):
        raise InvalidDataError(f"to_long needs a pandas DataFrame, got {type(matrix_df).__name__}")
    if patient == code:
        raise InvalidParameterError(f"patient and code must be different column names, both are {patient!r}")
    non_str = [c for c in matrix_df.columns if not isinstance(c, str)]
    if non_str:
        raise InvalidDataError(
            f"matrix column names must be strings (codes); found {non_str[:5]!r}; rename them",
            column=str(non_str[0]),
        )
    code_cols = [c for c in matrix_df.columns if c.startswith(prefix)]
    if prefix and not code_cols:
        raise InvalidDataError(f"no column starts with prefix {prefix!r}; check the prefix")
    for c in code_cols:
        dtype = matrix_df[c].dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise InvalidDataError(
                f"code column {c!r} holds {dtype} values; a code matrix holds 0/1 or counts", column=c
            )
    if not code_cols:
        return pd.DataFrame({patient: matrix_df.index[:0], code: pd.Series([], dtype=object)})
    sub = matrix_df[code_cols]
    if all(isinstance(d, np.dtype) and d.kind in "biu" for d in sub.dtypes):
        # plain integer/bool columns: no copy to float (200k x 1k uint8 = 200 MB)
        values = sub.to_numpy(dtype=np.result_type(*sub.dtypes))
    else:
        values = sub.to_numpy(dtype=np.float64, na_value=np.nan)
    _check_values(values, code_cols, counts)
    rows, cols = np.nonzero(values > 0)
    if counts:
        reps = values[rows, cols].astype(np.int64)
        rows, cols = np.repeat(rows, reps), np.repeat(cols, reps)
    names = np.asarray([c[len(prefix) :] for c in code_cols], dtype=object)
    return pd.DataFrame(
        {patient: matrix_df.index.take(rows).to_numpy(), code: names[cols]}, index=pd.RangeIndex(len(rows))
    )


def _check_values(values: np.ndarray, columns: Sequence[str], counts: bool) -> None:
    def first_bad(mask: np.ndarray) -> str | None:
        bad_cols = np.flatnonzero(mask.any(axis=0))
        return columns[int(bad_cols[0])] if len(bad_cols) else None

    is_float = values.dtype.kind == "f"
    col = first_bad(~np.isfinite(values)) if is_float else None
    if col is not None:
        raise InvalidDataError(
            f"code column {col!r} has missing or infinite values; use 0 for an absent code", column=col
        )
    col = first_bad(values < 0) if values.dtype.kind in "if" else None
    if col is not None:
        raise InvalidDataError(
            f"code column {col!r} has negative values; allowed: 0/1 or counts >= 0", column=col
        )
    col = first_bad(values != np.floor(values)) if counts and is_float else None
    if col is not None:
        raise InvalidDataError(
            f"code column {col!r} has non-integer values; counts must be whole numbers", column=col
        )
