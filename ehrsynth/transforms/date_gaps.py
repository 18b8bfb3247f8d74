"""Date columns modelled as gaps after an earlier date (admission → discharge): the order and the gap survive.

Every number and date is otherwise modelled on its own quantile bins, so two dates a few days apart share a bin
of months and come back in either order. When one date follows another in (almost) every row — which
:mod:`ehrsynth.dp.date_order` decides, under DP by a noisy count — the later column is replaced before the fit
by its gap in days after the earlier one (its *anchor*), a non-negative number modelled like any other, and
rebuilt after sampling as anchor + gap. Rows where the later date comes first are fitted with a gap of 0 and
rows with the later date but no anchor with a missing gap (the rule admits at most
:data:`~ehrsynth.dp.date_order.MAX_DISORDER` of such rows).

:class:`DateGap` records one such column (saved in ``config.json``, ``fitted.date_gaps``); :func:`to_gaps` and
:func:`from_gaps` are the two directions; :func:`gap_column` turns a declared date column into its gap column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import SchemaError
from ehrsynth.schema import Column, Kind
from ehrsynth.transforms.numeric import EPOCH

__all__ = [
    "DateGap",
    "DateOrder",
    "date_days",
    "from_gaps",
    "gap_column",
    "keep_order",
    "order_gaps",
    "out_of_order",
    "to_gaps",
]

_UNITS = ("D", "s")


@dataclass(frozen=True)
class DateGap:
    """``column`` is modelled as days after ``anchor``; ``dtype`` / ``time_unit`` restore its output form
    (``time_unit`` ``"D"``: whole days; ``"s"``: timestamps to the second)."""

    column: str
    anchor: str
    dtype: str = "datetime64[ns]"
    time_unit: str = "D"

    def __post_init__(self) -> None:
        for key in ("column", "anchor", "dtype"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise SchemaError(f"a date gap's {key!r} must be a non-empty string, found {value!r}")
        if self.column == self.anchor:
            raise SchemaError(f"date column {self.column!r} cannot be modelled as a gap after itself")
        if self.time_unit not in _UNITS:
            raise SchemaError(
                f"date gap of {self.column!r}: time_unit must be one of {_UNITS}, found {self.time_unit!r}"
            )

    def to_dict(self) -> dict[str, str]:
        return {
            "column": self.column,
            "anchor": self.anchor,
            "dtype": self.dtype,
            "time_unit": self.time_unit,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DateGap:
        if not isinstance(raw, Mapping) or set(raw) != {"column", "anchor", "dtype", "time_unit"}:
            raise SchemaError(
                f"a date gap must be an object with keys column, anchor, dtype, time_unit; found {raw!r}"
            )
        return cls(raw["column"], raw["anchor"], raw["dtype"], raw["time_unit"])


@dataclass(frozen=True)
class DateOrder:
    """``column`` is on or after ``after`` in (nearly) every real row, but is modelled apart from it (too far
    apart for a gap: birth → death): sampling redraws rows where it comes first."""

    column: str
    after: str

    def __post_init__(self) -> None:
        for key in ("column", "after"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise SchemaError(f"a date order's {key!r} must be a non-empty string, found {value!r}")
        if self.column == self.after:
            raise SchemaError(f"date column {self.column!r} cannot be ordered after itself")

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "after": self.after}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DateOrder:
        if not isinstance(raw, Mapping) or set(raw) != {"column", "after"}:
            raise SchemaError(f"a date order must be an object with keys column, after; found {raw!r}")
        return cls(raw["column"], raw["after"])


def out_of_order(out: pd.DataFrame, orders: Sequence[DateOrder]) -> np.ndarray:
    """Rows of a sampled table where some ordered pair has its later date first (missing dates never count)."""
    bad = np.zeros(len(out), dtype=bool)
    for o in orders:
        if o.column in out.columns and o.after in out.columns:
            with np.errstate(invalid="ignore"):
                bad |= date_days(out[o.column], "s") < date_days(out[o.after], "s")
    return bad


ORDER_ROUNDS = 8


def keep_order(
    out: pd.DataFrame, orders: Sequence[DateOrder], draw: Callable[[int], pd.DataFrame]
) -> tuple[pd.DataFrame, int]:
    """``out`` with its rows that break an order replaced by fresh rows from ``draw(m)`` that keep them (the
    kept rows first; up to :data:`ORDER_ROUNDS` draws, then the rows still missing are left as first drawn),
    and how many were left. Identifier columns must be renumbered by the caller (each draw numbers its own)."""
    bad = out_of_order(out, orders)
    if not bad.any():
        return out, 0
    parts, need = [out[~bad]], int(bad.sum())
    for _ in range(ORDER_ROUNDS):
        fresh = draw(max(2 * need, 256))
        fresh = fresh[~out_of_order(fresh, orders)].iloc[:need]
        parts.append(fresh)
        need -= len(fresh)
        if need == 0:
            break
    if need:
        parts.append(out[bad].iloc[:need])
    return pd.concat(parts, ignore_index=True), need


def order_gaps(gaps: Sequence[DateGap]) -> list[DateGap]:
    """``gaps`` with every anchor rebuilt before the columns anchored on it; a cycle or a column with two
    anchors is a :class:`SchemaError`."""
    by_column: dict[str, DateGap] = {}
    for g in gaps:
        if g.column in by_column:
            raise SchemaError(
                f"date column {g.column!r} has two anchors ({by_column[g.column].anchor!r}, {g.anchor!r})"
            )
        by_column[g.column] = g
    ordered: list[DateGap] = []
    done: set[str] = set()
    for g in gaps:
        chain: list[DateGap] = []
        node: DateGap | None = g
        while node is not None and node.column not in done:
            if node in chain:
                raise SchemaError(f"date gaps form a cycle through {node.column!r}")
            chain.append(node)
            node = by_column.get(node.anchor)
        for link in reversed(chain):
            ordered.append(link)
            done.add(link.column)
    return ordered


def date_days(s: pd.Series, time_unit: str = "D") -> np.ndarray:
    """A date column as days since 1970-01-01 (float; whole days when ``time_unit`` is ``"D"``; NaN when
    missing or unparseable)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        ts = s
    elif s.dtype == object or pd.api.types.is_string_dtype(s):
        ts = pd.to_datetime(s, errors="coerce", format="mixed")
    else:
        ts = pd.to_datetime(s, errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert(None)
    days = ((ts - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    return np.floor(days) if time_unit == "D" else days


def to_gaps(df: pd.DataFrame, gaps: Sequence[DateGap]) -> pd.DataFrame:
    """A copy of ``df`` with each gap column replaced by its days after its anchor (float; negative gaps set
    to 0; missing where the column or its anchor is missing). Every gap reads the original dates."""
    if not gaps:
        return df
    out = df.copy()
    for g in gaps:
        later = date_days(df[g.column], g.time_unit)
        anchor = date_days(df[g.anchor], g.time_unit)
        out[g.column] = np.maximum(later - anchor, 0.0)  # NaN stays NaN
    return out


def from_gaps(out: pd.DataFrame, gaps: Sequence[DateGap]) -> pd.DataFrame:
    """Rebuild each gap column of a sampled table as anchor + gap, in the dtype it was read in (anchors
    first: a chain admission → surgery → discharge rebuilds in order)."""
    for g in order_gaps(gaps):
        if g.column not in out.columns or g.anchor not in out.columns:
            continue
        gap = pd.to_numeric(out[g.column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        days = date_days(out[g.anchor], g.time_unit) + np.maximum(gap, 0.0)
        out[g.column] = restore_dates(days, g.dtype, g.time_unit)
    return out


def restore_dates(days: np.ndarray, dtype: str, time_unit: str) -> pd.Series:
    """Days since 1970 (NaN: missing) as a date column of ``dtype`` (datetime64, or text as YYYY-MM-DD
    [HH:MM:SS])."""
    missing = np.isnan(days)
    seconds = np.round(np.where(missing, 0.0, days) * (86400.0 if time_unit == "s" else 1.0))
    ts = pd.Series(pd.to_datetime(seconds, unit=time_unit, origin="unix")).where(~missing)
    if dtype.startswith("datetime64"):
        try:
            return ts.astype(dtype)
        except (TypeError, ValueError):
            return ts
    fmt = "%Y-%m-%d" if time_unit == "D" else "%Y-%m-%d %H:%M:%S"
    return ts.dt.strftime(fmt).astype(object).where(~missing, None)


def gap_column(later: Column, anchor: Column | None) -> Column:
    """The declared column that stands for ``later`` once it is a gap: continuous days ≥ 0, whole days for
    dates; bounded when both dates declare theirs (public: charged nothing), else discovered at fit."""
    whole = later.time_unit != "s"
    upper = None
    if anchor is not None and later.upper is not None and anchor.lower is not None:
        upper = max(float(later.upper) - float(anchor.lower), 1.0)
    return Column(
        later.name,
        Kind.CONTINUOUS,
        nullable=later.nullable or (anchor is not None and anchor.nullable),
        lower=0.0 if upper is not None else None,
        upper=upper,
        decimals=0 if whole else None,
        dtype="float64",
    )
