"""Schema discovery under differential privacy (used when no schema is declared in DP mode).

What is treated as public structure (never charged): the column names, their order and their pandas dtypes —
the header and types of the table the user hands us, like a data dictionary. Everything that depends on the
values is released by DP mechanisms charged to the same budget (docs/design.md §4 rule 1):

- **category sets** of string columns: one joint release of Gaussian noisy counts with a threshold
  (:func:`ehrsynth.dp.domain.noisy_category_sets`), so a value held by a single patient is released with
  negligible probability. A string column with no released value becomes an identifier when its name says so
  (``*_id``, ``*_nbr``…), otherwise it is refused with an error (free text or very high cardinality: declare a
  schema or drop it).
- **bounds** of numeric and datetime columns: one joint release of noisy histograms over a fixed grid
  (:func:`ehrsynth.dp.domain.dp_bounds`; no threshold needed). Integer columns then become: binary when the
  released range is inside [0, 1]; categorical with every integer of the range as a category when the name says
  category (``*_id``, ``*type*``, ``arms``, ``gender``…) and the range has at most 50 values; identifiers when the
  name says key (``*_id``, ``*_nbr``…) and the range is wider; counts otherwise.
- **code vocabulary** of columns that came from a long (patient, code) table (``code_columns``): codes whose noisy
  patient count passes the threshold are kept (:func:`ehrsynth.dp.domain.noisy_code_vocabulary`); the others
  are dropped from the model and the output.

Kinds follow from dtypes (bool → binary; datetime64, or strings in a column named like a date → datetime;
float → continuous; integer → binary/categorical/identifier/count as above; object/string → categorical). Every column
whose dtype can hold missing values is modelled as nullable. Declaring a schema (``ehrsynth schema``, then
edit) spends nothing here and usually gives better fidelity.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ehrsynth.dp import domain
from ehrsynth.dp.accounting import Mechanism
from ehrsynth.errors import InvalidDataError
from ehrsynth.inference import EPOCH, MAX_INT_CATEGORIES
from ehrsynth.naming import CATEGORY_NAMES, DATE_NAMES, IDENTIFIER_NAMES, KEY_NAMES
from ehrsynth.schema import Column, Kind, Scalar, Schema

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
        elif IDENTIFIER_NAMES.match(name):
            plan.identifiers.append(name)
        elif pd.api.types.is_bool_dtype(s):
            plan.binary.append(name)
        elif pd.api.types.is_datetime64_any_dtype(s) or (
            not pd.api.types.is_numeric_dtype(s) and DATE_NAMES.search(name)
        ):
            plan.datetime.append(name)
        elif pd.api.types.is_numeric_dtype(s):
            plan.numeric.append(name)
        else:
            plan.categorical.append(name)
    return plan


def _nullable(s: pd.Series) -> bool:
    """Whether the dtype can hold missing values (public: decided by the dtype, not by the values)."""
    return not (
        (pd.api.types.is_integer_dtype(s) and not isinstance(s.dtype, pd.api.extensions.ExtensionDtype))
        or (pd.api.types.is_bool_dtype(s) and s.dtype == bool)
    )


def _days(s: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(s, errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert(None)
    return ((ts - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)


def discover_schema(
    df: pd.DataFrame,
    *,
    noise_multiplier: float,
    rng: np.random.Generator,
    code_columns: Sequence[str] = (),
) -> tuple[Schema, list[Mechanism]]:
    """Build a schema from DP releases; returns it with the mechanisms to charge (one per release)."""
    plan = plan_discovery(df, code_columns)
    mechanisms: list[Mechanism] = []
    columns: dict[str, Column] = {}
    for name in plan.identifiers:
        columns[name] = Column(name, Kind.IDENTIFIER, dtype=str(df[name].dtype))
    for name in plan.binary:
        columns[name] = Column(name, Kind.BINARY, nullable=_nullable(df[name]), dtype=str(df[name].dtype))

    if plan.categorical:
        released, mech = domain.noisy_category_sets(
            {n: df[n] for n in plan.categorical}, noise_multiplier=noise_multiplier, threshold=None, rng=rng
        )
        mechanisms.append(mech)
        for name in plan.categorical:
            s = df[name]
            cats = list(released.get(name, []))
            if cats:
                columns[name] = Column(
                    name, Kind.CATEGORICAL, nullable=True, categories=cats, dtype=str(s.dtype)
                )
            elif KEY_NAMES.search(name):
                columns[name] = Column(name, Kind.IDENTIFIER, dtype=str(s.dtype))
            else:
                tau = domain.release_threshold(
                    noise_multiplier * math.sqrt(len(plan.categorical)), len(plan.categorical)
                )
                raise InvalidDataError(
                    f"column {name!r}: no value is held by enough rows to be released under differential privacy "
                    f"(a value needs a noisy count above ~{tau:.0f} at this epsilon and domain_share); declare "
                    "the categories in a schema (spends no budget), raise epsilon or domain_share, or drop the "
                    "column if it is free text or an identifier",
                    column=name,
                )

    bounded = plan.numeric + plan.datetime
    if bounded:
        values = {
            n: (_days(df[n]) if n in plan.datetime else df[n].to_numpy("float64", na_value=np.nan))
            for n in bounded
        }
        grids = {n: domain.date_grid() for n in plan.datetime}  # quarter-year bins, not the relative log grid
        bounds, mech = domain.dp_bounds(values, noise_multiplier=noise_multiplier, rng=rng, grids=grids)
        mechanisms.append(mech)
        for name in bounded:
            columns[name] = _bounded_column(name, df[name], bounds[name], is_date=name in plan.datetime)

    if plan.codes:
        matrix = df[plan.codes].to_numpy(dtype=np.float32)
        kept, mech = domain.noisy_code_vocabulary(
            matrix, plan.codes, noise_multiplier=noise_multiplier, threshold=None, rng=rng
        )
        mechanisms.append(mech)
        kept_set = set(kept)
        dropped = [c for c in plan.codes if c not in kept_set]
        if dropped:
            logger.warning(
                "%d of %d codes were not released under DP (too few patients) and are left out",
                len(dropped),
                len(plan.codes),
            )
        for name in plan.codes:
            if name in kept_set:
                columns[name] = Column(name, Kind.BINARY, dtype=str(df[name].dtype))

    ordered = [columns[n] for n in df.columns if n in columns]
    return Schema(ordered), mechanisms


def _bounded_column(name: str, s: pd.Series, bound: tuple[float, float], *, is_date: bool) -> Column:
    lo, hi = float(bound[0]), float(bound[1])
    if hi < lo:
        lo, hi = hi, lo
    dtype = str(s.dtype)
    nullable = _nullable(s) or is_date
    if is_date:
        return Column(name, Kind.DATETIME, nullable=nullable, lower=lo, upper=hi, dtype=dtype, time_unit="D")
    if pd.api.types.is_integer_dtype(s):
        lo, hi = math.floor(lo), math.ceil(hi)
        if lo >= 0 and hi <= 1:
            return Column(name, Kind.BINARY, nullable=nullable, dtype=dtype)
        if CATEGORY_NAMES.search(name) and hi - lo + 1 <= MAX_INT_CATEGORIES:
            cats: list[Scalar] = list(range(int(lo), int(hi) + 1))
            return Column(name, Kind.CATEGORICAL, nullable=nullable, categories=cats, dtype=dtype)
        if KEY_NAMES.search(name):
            return Column(name, Kind.IDENTIFIER, dtype=dtype)
        if lo >= 0:
            return Column(name, Kind.COUNT, nullable=nullable, lower=lo, upper=max(hi, lo + 1.0), dtype=dtype)
        return Column(name, Kind.CONTINUOUS, nullable=nullable, lower=lo, upper=hi, decimals=0, dtype=dtype)
    return Column(name, Kind.CONTINUOUS, nullable=nullable, lower=lo, upper=hi, dtype=dtype)


def clamp_to_released_ranges(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Clip integer columns to the ranges that DP discovery released, as continuous values are clipped.

    A noisy range can exclude a few real values (e.g. ``arms`` released as 1..3 when 0 occurs). Binary
    columns and integer categoricals with a contiguous range are clipped to it, so every row stays encodable
    and each row still touches the model only through its clipped value (no extra privacy cost).
    Returns ``df`` itself when nothing needs clipping, otherwise a copy.
    """
    out = df
    for col in schema.columns:
        if col.name not in df.columns or not pd.api.types.is_integer_dtype(df[col.name]):
            continue
        if col.kind is Kind.BINARY:
            lo, hi = 0, 1
        elif (
            col.kind is Kind.CATEGORICAL
            and col.categories
            and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in col.categories)
        ):
            lo, hi = int(min(col.categories)), int(max(col.categories))
            if hi - lo + 1 != len(col.categories):
                continue
        else:
            continue
        s = df[col.name]
        if bool(((s < lo) | (s > hi)).fillna(False).any()):
            if out is df:
                out = df.copy()
            out[col.name] = s.clip(lo, hi)
    return out
