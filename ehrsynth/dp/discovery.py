"""Schema discovery under differential privacy: kinds from names and dtypes, everything else from ONE release.

What is treated as public structure (never charged): the column names, their order and their pandas dtypes —
the header and types of the table the user hands us, like a data dictionary — and a schema the user declares
(kinds only, or with categories/bounds). Everything that depends on the values comes from the DP release of
all 1-way marginals (:mod:`ehrsynth.dp.one_way`), which serves both discovery and calibration:

- **category values** of string columns pass a noise threshold (a value held by one row is released with
  probability ≤ 1e-10); values below it are merged into one ``"other"`` value with one
  :class:`~ehrsynth.errors.DataFidelityWarning`. A string column with no released value becomes an identifier
  when its name says key (``*_id``, ``*_nbr``…), otherwise it is refused (free text or very high cardinality).
- **numbers and dates** get a released CDF (knots/cdf) from a zoomed noisy histogram: they are encoded by
  quantile bins, so heavy tails and years survive; integer columns whose mass sits on a few integers become
  binary or categorical with exactly the released values; decimals are detected by a noisy count.
- **missing values** are modelled only where the released missing rate is significant.
- **code vocabulary** of columns that came from a long (patient, code) table (``code_columns``): codes whose
  noisy patient count passes the threshold are kept; the others are dropped (one warning, without counts).

Kinds follow from dtypes (bool → binary; datetime64, or strings in a column named like a date → datetime;
numbers named like codes, :func:`~ehrsynth.naming.is_code_name` → categorical; other numbers → numeric;
object/string → categorical) unless a declared schema names them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ehrsynth.dp.accounting import Mechanism
from ehrsynth.dp.one_way import NOISE_WEIGHTS, Release, Spec, release_one_way
from ehrsynth.dp.time_of_day import day_fraction
from ehrsynth.errors import DataFidelityWarning, InvalidDataError
from ehrsynth.naming import DATE_NAMES, KEY_NAMES, is_code_name, is_never_modelled_name
from ehrsynth.schema import Column, Kind, Schema
from ehrsynth.transforms.date_gaps import date_days

logger = logging.getLogger(__name__)


@dataclass
class DiscoveryPlan:
    """Which columns go through which release; built from names and dtypes only (no data access)."""

    identifiers: list[str] = field(default_factory=list)
    binary: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    datetime: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    @property
    def releases(self) -> int:
        groups = (self.categorical, self.numeric + self.datetime, self.codes)
        return sum(1 for g in groups if g)


def plan_discovery(df: pd.DataFrame, code_columns: Sequence[str] = ()) -> DiscoveryPlan:
    plan = DiscoveryPlan()
    codes = set(code_columns)
    for name in df.columns:
        s = df[name]
        if name in codes:
            plan.codes.append(name)
        elif is_never_modelled_name(name):  # never released, even if its values repeat
            plan.identifiers.append(name)
        elif pd.api.types.is_bool_dtype(s):
            plan.binary.append(name)
        elif pd.api.types.is_datetime64_any_dtype(s) or (
            not pd.api.types.is_numeric_dtype(s) and DATE_NAMES.search(name)
        ):
            plan.datetime.append(name)
        elif pd.api.types.is_numeric_dtype(s) and is_code_name(name):
            plan.categorical.append(name)  # codes are labels: the values held by enough rows, never between
        elif pd.api.types.is_numeric_dtype(s):
            plan.numeric.append(name)
        else:
            plan.categorical.append(name)
    return plan


def _days(name: str, s: pd.Series, unit: str = "D") -> np.ndarray:
    """Dates as days since 1970-01-01 (whole days for ``unit`` "D"; NaN when missing); unparseable strings are
    an error, not noise."""
    days = date_days(s, unit)
    bad = np.isnan(days) & s.notna().to_numpy()
    if bad.any():
        example = s[bad].iloc[0]
        raise InvalidDataError(
            f"column {name!r} is read as dates, but {int(bad.sum())} value(s) are not dates (e.g. {example!r}); "
            "write them as YYYY-MM-DD, or declare the column's kind in a schema",
            column=name,
        )
    return days


def build_specs(
    df: pd.DataFrame, code_columns: Sequence[str] = (), declared: Schema | None = None
) -> tuple[list[Spec], list[str], dict[str, np.ndarray]]:
    """Release specs from names, dtypes and a declared (kinds-only or full) schema — no data access — plus the
    identifier columns and the numeric values (dates as days) the release reads."""
    plan = plan_discovery(df, code_columns)
    kinds = {c.name: c for c in declared.columns} if declared is not None else {}
    specs: list[Spec] = []
    identifiers: list[str] = []
    values: dict[str, np.ndarray] = {}
    role_of = {
        n: r for r in ("binary", "categorical", "numeric", "datetime", "codes") for n in getattr(plan, r)
    }
    for name in df.columns:
        s = df[name]
        dtype = str(s.dtype)
        col = kinds.get(name)
        role = role_of.get(name, "identifier") if col is None else _declared_role(col)
        if role == "identifier":
            identifiers.append(name)
            continue
        if role in ("numeric", "datetime"):
            is_date = role == "datetime" or (col is not None and col.kind is Kind.DATETIME)
            x = _days(name, s) if is_date else s.to_numpy("float64", na_value=np.nan)
            values[name] = x
            integer = (
                is_date
                or pd.api.types.is_integer_dtype(s)
                or (col is not None and (col.kind is Kind.COUNT or col.decimals == 0))
            )
            specs.append(Spec(name, "numeric", integer=integer, declared=col, dtype=dtype, datetime=is_date))
        elif role == "codes":
            specs.append(Spec(name, "code", dtype=dtype))
        elif role == "binary":
            specs.append(Spec(name, "binary", declared=col, dtype=dtype))
        else:
            numeric = pd.api.types.is_numeric_dtype(s)
            specs.append(Spec(name, "categorical", numeric_coded=numeric, declared=col, dtype=dtype))
    return specs, identifiers, values


def date_columns(
    df: pd.DataFrame, code_columns: Sequence[str] = (), declared: Schema | None = None
) -> list[str]:
    """The columns DP discovery reads as dates: from names, dtypes and ``declared`` (its kind wins), no data
    access (date order, gaps and the time-of-day release all start from these)."""
    planned = set(plan_discovery(df, code_columns).datetime)
    kinds = {c.name: c.kind for c in declared.columns} if declared is not None else {}
    return [n for n in df.columns if kinds.get(n, Kind.DATETIME if n in planned else None) is Kind.DATETIME]


def date_times(
    df: pd.DataFrame, code_columns: Sequence[str] = (), declared: Schema | None = None
) -> dict[str, np.ndarray]:
    """The time within its day (:func:`~ehrsynth.dp.time_of_day.day_fraction`) of every :func:`date_columns`
    column, for :func:`discover_schema`'s ``times``; read before the dates become gaps
    (:mod:`ehrsynth.dp.date_order`). Unparseable values raise the release's error."""
    return {n: day_fraction(_days(n, df[n], "s")) for n in date_columns(df, code_columns, declared)}


def _declared_role(col: Column) -> str:
    return {
        Kind.IDENTIFIER: "identifier",
        Kind.BINARY: "binary",
        Kind.CATEGORICAL: "categorical",
        Kind.DATETIME: "datetime",
    }.get(col.kind, "numeric")


def discover_schema(
    df: pd.DataFrame,
    *,
    noise_multiplier: float,
    rng: np.random.Generator,
    code_columns: Sequence[str] = (),
    declared: Schema | None = None,
    report: dict[str, float] | None = None,
    notes: list[str] | None = None,
    times: dict[str, np.ndarray] | None = None,
) -> tuple[Schema, list[Mechanism]]:
    """The schema with every column's DP 1-way marginal (:mod:`ehrsynth.dp.one_way`) and the mechanisms to
    charge. ``declared``: the user's (public) schema — its kinds, and its categories/bounds where given, are
    used instead of guesses from dtypes; the marginals are released all the same. ``report``: filled with
    ``count_sd``, the release's noise on one count (σ of the 1-way Gaussian). ``notes``: extended with the
    messages of the :class:`~ehrsynth.errors.DataFidelityWarning` s the release raised. ``times``: the time
    within the day of the dates whose time of day is released (:mod:`ehrsynth.dp.time_of_day`; a date column
    or the gap column that stands for a date), keyed by column; see :func:`date_times`."""
    specs, identifiers, values = build_specs(df, code_columns, declared)
    release = release_one_way(
        df, specs, noise_multiplier=noise_multiplier, rng=rng, values=values, times=times
    )
    if report is not None:
        report["count_sd"] = float(noise_multiplier) * float(np.sqrt(release.row_bound))
    zoom_sd = float(noise_multiplier) * NOISE_WEIGHTS["zoom"] * float(np.sqrt(release.row_bound))
    columns: dict[str, Column] = {}
    for name in identifiers:
        columns[name] = Column(name, Kind.IDENTIFIER, dtype=str(df[name].dtype))
    dropped = 0
    for spec in specs:
        col = release.columns[spec.name]
        if col is None:
            dropped += 1
            continue
        key = spec.role == "numeric" and KEY_NAMES.search(spec.name) and col.kind not in _CODES
        if key and not _repeated_values(col, len(df), zoom_sd):
            col = Column(spec.name, Kind.IDENTIFIER, dtype=spec.dtype)  # a numeric key: fresh surrogates
        # a categorical column none of whose values was released: a key by its name, else refused
        if col.kind is Kind.IDENTIFIER and not KEY_NAMES.search(spec.name):
            raise InvalidDataError(
                f"column {spec.name!r}: no value is held by enough rows to be released under differential "
                "privacy at this epsilon; declare the categories in a schema (spends no budget), raise "
                "epsilon, or drop the column if it is free text or an identifier",
                column=spec.name,
            )
        if spec.name in release.time_of_day and col.kind is not Kind.IDENTIFIER:
            col = replace(col, time_of_day=release.time_of_day[spec.name])
        columns[spec.name] = col
    # a number that became a key gets fresh surrogates: its released range is not shown to anyone
    release.trimmed = {k: v for k, v in release.trimmed.items() if columns[k].kind is not Kind.IDENTIFIER}
    messages = _warn(release, dropped)
    if notes is not None:
        notes.extend(messages)
    ordered = [columns[n] for n in df.columns if n in columns]
    return Schema(ordered), release.mechanisms


_CODES = (Kind.CATEGORICAL, Kind.BINARY)
REPEATED_SHARE = 0.5
REPEATED_Z = 3.0


def _repeated_values(col: Column, n: int, sd: float) -> bool:
    """Whether the released distribution puts most of its mass on single integers each held by more than
    :data:`REPEATED_Z` noise sd of rows: a code such as ``discharge_disposition_id`` (26 values), not a key,
    whose values are nearly unique (a run of sequential keys is zoomed into one-wide cells too, which share
    out noise, a few rows each). Post-processing of the release (n, the number of rows, is public)."""
    if not col.knots or not col.cdf:
        return False
    width = np.diff(np.asarray(col.knots, dtype=np.float64))
    mass = np.diff(np.asarray(col.cdf, dtype=np.float64))
    rows = mass * n * (1.0 - float(col.missing_rate or 0.0))
    return bool(mass[(width <= 1.0) & (rows > REPEATED_Z * sd)].sum() >= REPEATED_SHARE)


def _warn(release: Release, dropped: int) -> list[str]:
    """One warning each for merged rare values, values likely dropped (too few for 'other'), numbers whose
    tails the threshold cut, and dropped codes; only released (noisy) figures are named. Returns the messages
    (the fit keeps them as ``release_notes_``, written into the synthetic table's sidecar)."""
    messages: list[str] = []
    if release.merged:
        parts = ", ".join(f"{name!r} (~{rows:.0f} rows)" for name, rows in release.merged.items())
        messages.append(
            f"values held by too few rows to be released under differential privacy were merged into one "
            f"'other' value (numeric codes: into missing) in {len(release.merged)} column(s): {parts}; row "
            "counts are noisy estimates. Declare the categories in a schema to keep them, or raise epsilon",
        )
    if release.spread:
        parts = ", ".join(f"{name!r} (~{rows:.0f} rows)" for name, rows in release.spread.items())
        messages.append(
            f"values held by too few rows may have been dropped from {len(release.spread)} column(s), too few "
            f"of them for an 'other' value, so their rows were spread over the released values: {parts}; row "
            "counts are noisy estimates within the noise. Declare the categories in a schema to keep them, or "
            "raise epsilon",
        )
    if release.trimmed:
        parts = ", ".join(
            f"{name!r} (~{rows:.0f} rows; released {shown})"
            for name, (rows, shown) in release.trimmed.items()
        )
        messages.append(
            f"values in sparse parts of the range (usually the tails) of {len(release.trimmed)} numeric "
            f"column(s) were held by too few rows to be released under differential privacy; their rows were "
            f"given to the released range, so the synthetic values span less than the real ones: {parts}; row "
            "counts are noisy estimates. Declare the column's 'lower' and 'upper' in a schema (public, spends "
            "no budget) to keep its tails, or raise epsilon",
        )
    if dropped:
        messages.append(
            "some codes were held by too few patients to be released under differential privacy and are left "
            "out of the model and the output (their number is not shown: it is private)",
        )
    for message in messages:
        warnings.warn(message, DataFidelityWarning, stacklevel=4)
    return messages
