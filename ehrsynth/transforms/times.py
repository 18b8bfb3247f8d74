"""Times of day for dates modelled in whole days (under DP): drawn from the released shares, in date order.

A column whose schema entry carries ``time_of_day`` (:mod:`ehrsynth.dp.time_of_day`) comes out of the model
as whole days; :func:`add_times` gives each row a time drawn from those shares (midnight, or a second drawn
uniformly inside the drawn hour), independently of the rest of the row, and writes the column as
timestamps. Where a date gap's later date falls on its anchor's day with an earlier time (the anchor, or the
nearest timed date up a chain of gaps), the two times of day are swapped, so the later date never comes first (the hour shares are unchanged by a swap).
A later date without a time of day stands for its whole day: timed dates up its chain on that day are set to
its midnight, so they do not come after it either.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ehrsynth.kinds import TIME_OF_DAY_CELLS
from ehrsynth.schema import Schema
from ehrsynth.transforms.date_gaps import DateGap, date_days, order_gaps, restore_dates

SECONDS = 86_400
HOURS = TIME_OF_DAY_CELLS - 1


def draw_fractions(shares: Sequence[float], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` times of day as fractions of a day, in whole seconds: cell 0 is exactly midnight, cell h + 1 a
    uniform second inside hour h."""
    p = np.clip(np.asarray(shares, dtype=np.float64), 0.0, None)
    cells = rng.choice(len(p), size=n, p=p / p.sum())
    seconds = np.floor((cells - 1 + rng.random(n)) * (SECONDS / HOURS))
    return np.where(cells == 0, 0.0, np.clip(seconds, 0, SECONDS - 1) / SECONDS)


def add_times(
    out: pd.DataFrame, schema: Schema, gaps: Sequence[DateGap], rng: np.random.Generator
) -> pd.DataFrame:
    """``out`` (a sampled table, dates already rebuilt from their gaps) with a drawn time of day on every
    column whose schema entry has ``time_of_day``; unchanged (and no random draw) when none has."""
    timed = [c for c in schema.columns if c.time_of_day is not None and c.name in out.columns]
    if not timed:
        return out
    dtype_of = {g.column: g.dtype for g in gaps}
    days: dict[str, np.ndarray] = {}
    for col in timed:
        days[col.name] = date_days(out[col.name], "D") + draw_fractions(col.time_of_day or [], len(out), rng)
    anchor_of = {g.column: g.anchor for g in gaps}
    for g in order_gaps(gaps):  # anchors first: a swap never breaks a link already put in order
        up = _timed_up(g.anchor, days, anchor_of)
        if g.column in days and up is not None:
            later, anchor = days[g.column], days[up]
            with np.errstate(invalid="ignore"):
                bad = later < anchor
            if bad.any():
                day_l, day_a = np.floor(later[bad]), np.floor(anchor[bad])
                later[bad], anchor[bad] = day_l + (anchor[bad] - day_a), day_a + (later[bad] - day_l)
    _untimed_ends(out, gaps, days, anchor_of)
    for col in timed:
        dtype = dtype_of.get(col.name, col.dtype or "object")
        out[col.name] = restore_dates(days[col.name], dtype, "s")
    return out


def _untimed_ends(
    out: pd.DataFrame, gaps: Sequence[DateGap], days: dict[str, np.ndarray], anchor_of: dict[str, str]
) -> None:
    """A gap's later date that has no time (its hours were not released, or the column holds dates only)
    stands for its whole day, so a timed date up its chain on that same day is set to that day's midnight
    (and so on up the chain), not left after it. MIMIC-III demo ``TRANSFERS`` at ε = 3 (395 rows with both
    dates): ``outtime``'s hours were too few to release, ``intime``'s were not, and 20-30 % of rows came back
    with ``outtime`` before ``intime`` on the same day."""
    for g in order_gaps(gaps):
        if g.column in days or g.column not in out.columns:
            continue
        day = date_days(out[g.column], "D")
        up = _timed_up(g.anchor, days, anchor_of)
        while up is not None:
            t = days[up]
            with np.errstate(invalid="ignore"):
                same = (np.floor(t) == day) & (t > day)
            if not same.any():
                break
            t[same] = day[same]
            up = _timed_up(anchor_of[up], days, anchor_of) if up in anchor_of else None


def _timed_up(name: str, days: dict[str, np.ndarray], anchor_of: dict[str, str]) -> str | None:
    """``name`` or the nearest date up its chain of gaps that has a time of day (in ``days``); None if none
    (a date-only link in between adds whole days, so the order is decided by the timed ones)."""
    node: str | None = name
    while node is not None and node not in days:
        node = anchor_of.get(node)
    return node
