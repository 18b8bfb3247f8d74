"""The unit of privacy: is one row one patient?

Every DP guarantee of ehrsynth is for add/remove-one-ROW neighbours. When a patient has several rows (encounters,
prescriptions, admissions), one patient changes several rows, and the ε printed covers one of their rows, not
the patient: group privacy for k rows is roughly k·ε, which at k = 100 protects nothing. The library cannot see
who a row belongs to in general, but a column named as the key of a person or visit (``patient_nbr``,
``subject_id``, ``hadm_id``…; :data:`ehrsynth.naming.PERSON_KEY_NAMES`) whose values repeat says so.

:func:`check_privacy_unit` runs before any DP release, on the steward's own table (what it reads is shown only
to the caller, in the error or warning, never written into the model or the synthetic table):

- ``privacy_unit="patient"`` (the default): such a table is refused with an error naming the column, how many
  rows share its values, and the fixes (aggregate to one row per patient, ``--long`` for a long code table, or
  ``privacy_unit="row"``).
- ``privacy_unit="row"``: the caller accepts a per-row guarantee. The fit goes on; privacy.json records
  ``"privacy_unit": "row"`` and a release note in the synthetic table's sidecar names the repeated column(s), so
  whoever reads the ε knows what it covers.

A table with no such column, or whose keys never repeat, passes unchanged: the library cannot check rows it
cannot link, which the README's *Unit of privacy* states.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ehrsynth.errors import InvalidDataError, InvalidParameterError
from ehrsynth.naming import is_person_key_name

PRIVACY_UNITS = ("patient", "row")
DEFAULT_PRIVACY_UNIT = "patient"


@dataclass(frozen=True)
class RepeatedKey:
    """A person or visit key whose values repeat: ``rows`` non-missing rows hold ``distinct`` values, at most
    ``max_rows`` rows one value."""

    column: str
    rows: int
    distinct: int
    max_rows: int

    def describe(self) -> str:
        return (
            f"{self.column!r} ({self.rows:,} rows share {self.distinct:,} values, up to {self.max_rows:,} rows "
            "one value)"
        )


def check_unit_name(privacy_unit: object) -> str:
    """Validate a ``privacy_unit`` parameter value."""
    if not isinstance(privacy_unit, str) or privacy_unit not in PRIVACY_UNITS:
        raise InvalidParameterError(
            f"privacy_unit must be one of {list(PRIVACY_UNITS)}, found {privacy_unit!r}: 'patient' (default) refuses "
            "a table whose patient or visit key repeats; 'row' accepts a guarantee for one row"
        )
    return privacy_unit


def repeated_keys(df: pd.DataFrame) -> list[RepeatedKey]:
    """Columns named as a person or visit key whose non-missing values repeat, in column order."""
    out: list[RepeatedKey] = []
    for name in df.columns:
        if not isinstance(name, str) or not is_person_key_name(name):
            continue
        values = df[name].dropna()
        if values.empty:
            continue
        counts = values.value_counts(sort=False)
        if len(counts) < len(values):
            out.append(RepeatedKey(name, len(values), len(counts), int(counts.max())))
    return out


def check_privacy_unit(df: pd.DataFrame, privacy_unit: str) -> list[str]:
    """Refuse (``"patient"``) or describe (``"row"``) a table whose person or visit key repeats.

    Returns the release notes for ``"row"`` (empty when no key repeats): they name the columns, not the
    counts, because they are written next to the synthetic table."""
    unit = check_unit_name(privacy_unit)
    found = repeated_keys(df)
    if not found:
        return []
    names = ", ".join(repr(k.column) for k in found)
    if unit == "patient":
        raise InvalidDataError(
            f"several rows belong to one patient or visit: {'; '.join(k.describe() for k in found)}. Differential "
            "privacy here protects one row, so a patient with k rows would be covered only at about k times "
            "epsilon. Aggregate to one row per patient first (a long code table: ehrsynth.codes.to_matrix, or "
            "`ehrsynth synthesize --long --patient COLUMN`), or pass privacy_unit='row' (CLI: --privacy-unit "
            "row) to accept a guarantee for one row",
            column=found[0].column,
        )
    return [
        f"the privacy guarantee is for one ROW, not one patient: the values of {names} repeat, so a patient or "
        "visit has several rows and is protected only at about (its rows) x epsilon (fitted with "
        "privacy_unit='row')"
    ]
