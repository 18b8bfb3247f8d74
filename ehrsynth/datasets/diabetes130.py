"""A patient × ICD-9 table from the UCI "Diabetes 130-US hospitals" encounter file.

Source (not shipped, not downloaded; the user points at their own copy): Strack B, DeShazo JP, Gennings C,
et al. Impact of HbA1c measurement on hospital readmission rates: analysis of 70,000 clinical database
patient records. BioMed Research International 2014:781670. UCI Machine Learning Repository, dataset 296,
CC BY 4.0.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from ehrsynth.codes import group_icd9_series, to_matrix
from ehrsynth.errors import InvalidDataError, InvalidParameterError
from ehrsynth.io.tables import read_table

logger = logging.getLogger(__name__)

PATIENT_COLUMN = "patient_nbr"
ENCOUNTER_COLUMN = "encounter_id"
DEMOGRAPHIC_COLUMNS = ("race", "gender", "age")
OUTCOME_COLUMN = "readmitted"
DIAGNOSIS_COLUMNS = ("diag_1", "diag_2", "diag_3")
CODE_PREFIX = "dx_"
#: Readmission outcomes from least to most severe; a patient gets the most severe over their encounters.
READMITTED_ORDER = ("NO", ">30", "<30")


def _check_columns(df: pd.DataFrame, path: str) -> None:
    needed = (PATIENT_COLUMN, *DEMOGRAPHIC_COLUMNS, OUTCOME_COLUMN, *DIAGNOSIS_COLUMNS)
    for col in needed:
        if col not in df.columns:
            raise InvalidDataError(
                f"column {col!r} not found in {path!r}; a Diabetes 130-US hospitals file "
                f"(diabetic_data.csv) has the columns {', '.join(needed)}; point at that file",
                column=col,
            )


def _patient_ids(s: pd.Series) -> pd.Series:
    ids = s.str.strip()
    if ids.isna().any():
        raise InvalidDataError(
            f"column {PATIENT_COLUMN!r} is missing in {int(ids.isna().sum())} rows; every encounter "
            "needs its patient number; drop those rows first",
            column=PATIENT_COLUMN,
        )
    if bool(ids.str.fullmatch(r"\d{1,18}").all()):
        return ids.astype("int64")
    return ids


def _worst_readmission(patients: pd.Series, outcome: pd.Series) -> pd.Series:
    rank = {value: i for i, value in enumerate(READMITTED_ORDER)}
    values = outcome.str.strip()
    codes = values.map(rank)
    unknown = values.notna() & codes.isna()
    if unknown.any():
        bad = sorted(values[unknown].unique())[:5]
        raise InvalidDataError(
            f"column {OUTCOME_COLUMN!r} has values {bad}; allowed: {', '.join(READMITTED_ORDER)} "
            "or missing ('?')",
            column=OUTCOME_COLUMN,
        )
    worst = codes.groupby(patients.to_numpy(), sort=False).max()
    labels = np.asarray([*READMITTED_ORDER, None], dtype=object)
    return pd.Series(labels[worst.fillna(len(READMITTED_ORDER)).astype(int).to_numpy()], index=worst.index)


def diabetes130_patient_table(path: str | os.PathLike[str], *, min_code_patients: int = 1) -> pd.DataFrame:
    """One row per patient from a copy of the UCI Diabetes 130-US hospitals encounter CSV.

    ``path`` is the user's ``diabetic_data.csv`` (or a ``.csv.gz``/``.parquet`` subset with the same
    columns); ``?`` marks missing values. Nothing is downloaded. The table is built without any privacy
    protection (the code vocabulary is read from the data): use it for benchmarks and tests.

    Columns, rows sorted by ``patient_nbr``:

    - ``patient_nbr``: the patient number, kept as an identifier column (int64 when all ids are numeric).
    - ``race``, ``gender``, ``age`` (10-year band such as ``"[70-80)"``): strings from the patient's first
      encounter (the lowest ``encounter_id``; file order when the file has no ``encounter_id``); missing
      stays missing.
    - ``readmitted``: the most severe outcome over the patient's encounters, ``"<30"`` > ``">30"`` >
      ``"NO"`` (so a patient ever readmitted within 30 days is ``"<30"``); missing when every encounter
      is missing it.
    - ``dx_<code>`` (uint8 0/1): the patient had the 3-digit ICD-9 category ``<code>`` in ``diag_1``,
      ``diag_2`` or ``diag_3`` of any encounter (``"250.83"`` → ``dx_250``, ``"V27"`` → ``dx_V27``,
      ``"8"`` → ``dx_008``; see :func:`ehrsynth.codes.group_icd9`), sorted by code. Categories seen in
      fewer than ``min_code_patients`` patients are dropped.
    """
    if isinstance(min_code_patients, bool) or not isinstance(min_code_patients, (int, np.integer)):
        raise InvalidParameterError(f"min_code_patients must be an integer >= 1, got {min_code_patients!r}")
    if min_code_patients < 1:
        raise InvalidParameterError(f"min_code_patients must be >= 1, got {min_code_patients}")
    df = read_table(path, dtype="str")
    _check_columns(df, str(path))
    if df.empty:
        raise InvalidDataError(f"{str(path)!r} has a header but no encounters; it needs rows")

    patients = _patient_ids(df[PATIENT_COLUMN])
    if ENCOUNTER_COLUMN in df.columns:
        encounter = pd.to_numeric(df[ENCOUNTER_COLUMN], errors="coerce")
        order = np.argsort(encounter.fillna(np.inf).to_numpy(), kind="stable")
    else:
        order = np.arange(len(df))
    first = pd.DataFrame({PATIENT_COLUMN: patients.to_numpy()[order]})
    for col in DEMOGRAPHIC_COLUMNS:
        first[col] = df[col].str.strip().to_numpy()[order]
    first = first.drop_duplicates(PATIENT_COLUMN, keep="first").sort_values(PATIENT_COLUMN, kind="stable")
    first = first.set_index(PATIENT_COLUMN)
    first[OUTCOME_COLUMN] = _worst_readmission(patients, df[OUTCOME_COLUMN])

    for col in DIAGNOSIS_COLUMNS:  # validate per column so an error names diag_1/2/3
        group_icd9_series(df[col])
    long = pd.DataFrame(
        {
            PATIENT_COLUMN: np.tile(patients.to_numpy(), len(DIAGNOSIS_COLUMNS)),
            "code": np.concatenate([df[c].to_numpy(dtype=object) for c in DIAGNOSIS_COLUMNS]),
        }
    )
    codes = to_matrix(
        long,
        patient=PATIENT_COLUMN,
        code="code",
        grouping="icd9_3digit",
        prefix=CODE_PREFIX,
        patients=first.index,
    )
    if min_code_patients > 1:
        support = codes.sum(axis=0)
        rare = support < min_code_patients
        logger.info(
            "dropped %d code columns seen in fewer than %d patients", int(rare.sum()), min_code_patients
        )
        codes = codes.loc[:, ~rare.to_numpy()]
    out = pd.concat([first, codes], axis=1).reset_index()
    logger.info("diabetes130 patient table: %d patients, %d code columns", len(out), codes.shape[1])
    return out
