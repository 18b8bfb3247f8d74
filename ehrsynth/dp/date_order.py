"""Which date column follows which: one noisy count per pair of date columns, so discharge stays after admission.

The later column of an ordered pair is modelled as its gap after the earlier one
(:mod:`ehrsynth.transforms.date_gaps`). For every pair (a, b) of date columns (at most
:data:`MAX_DATE_COLUMNS`, in table order) the release counts, over the rows:

- ``b_first``: b present and (a missing, or b before a) — the rows that break "b after a";
- ``a_first``: a present and (b missing, or a before b) — the rows that break "a after b";
- ``both``: a and b present;
- ``close``: a and b present and at most :data:`CLOSE_DAYS` apart.

A row adds 1 to at most one of the first two counts of a pair and 1 to each of the others, so the vector over
P pairs changes by at most √(3P) in L2 when a row is added or removed: one Gaussian release (``date-order``,
noise multiplier :data:`ORDER_WEIGHT` × the 1-way release's), recorded in ``privacy.json``. Without DP the
counts are exact.

Rule: b follows a when ``both`` clears :data:`MIN_SIGNAL` noise sd, ``b_first`` ≤ :data:`MAX_DISORDER` ×
``both`` + 2 sd, and ``close`` ≥ :data:`MIN_CLOSE` × ``both`` − 2 sd. The last condition keeps pairs such as
birth → admission apart: there the gap (the age) spans decades and is tied to the birth date, so anchor + gap
would scatter the later date unless that tie were learnt exactly. At the smallest tables that pass, up to
about 9 % of rows with both dates may be out of order; their gap is fitted as 0. A pair whose names say which
date ends the span (``intime`` → ``outtime``, ``admittime`` → ``dischtime``; public,
:func:`~ehrsynth.naming.is_named_date_order`) is tested in that direction only and needs
:data:`NAMED_MIN_SIGNAL` sd instead of :data:`MIN_SIGNAL`, so small tables keep their stays in order (at the
smallest that pass, up to about a quarter of rows may be out of order and get a gap of 0). Where a column follows
several others, its anchor is the one that itself follows the most (admission → surgery → discharge:
discharge is anchored on surgery). Pairs in order but far apart (birth → death), and pairs in order that the
anchors do not imply, are kept as :class:`~ehrsynth.transforms.date_gaps.DateOrder` s: sampling redraws the
rows that break them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ehrsynth.dp.accounting import Gaussian, Mechanism
from ehrsynth.naming import is_named_date_order
from ehrsynth.transforms.date_gaps import DateGap, DateOrder, date_days

logger = logging.getLogger(__name__)

__all__ = [
    "CLOSE_DAYS",
    "MAX_DATE_COLUMNS",
    "MAX_DISORDER",
    "MIN_SIGNAL",
    "NAMED_MIN_SIGNAL",
    "ORDER_WEIGHT",
    "DateRelations",
    "detect_date_gaps",
    "order_counts",
]

MAX_DATE_COLUMNS = 6  # 15 pairs: the count noise grows with √pairs
ORDER_WEIGHT = (
    2.0  # noise multiplier relative to the 1-way release's: 1/4 of its 1-way phase's ρ, ~3 % of all (ε = 1–3)
)
MAX_DISORDER = 0.01
MIN_SIGNAL = 25.0  # rows with both dates, in noise sd (ε = 1: ~1,150 rows; ε = 3: ~420)
#: the same for a pair whose names say which ends the span (``intime`` → ``outtime``; public,
#: :func:`~ehrsynth.naming.is_named_date_order`), tested in that direction only. MIMIC-III demo ``TRANSFERS``
#: (524 rows, 395 with both dates; ε = 3, per-row unit) has 14 sd: below MIN_SIGNAL, so its synthetic
#: ``outtime`` fell before ``intime`` in 41-52 % of rows (four seeds)
NAMED_MIN_SIGNAL = 8.0
MIN_EXACT_ROWS = 20  # without DP: rows with both dates a pair needs
CLOSE_DAYS = 366.0
MIN_CLOSE = 0.9


def order_counts(days: Sequence[np.ndarray]) -> np.ndarray:
    """(P, 4) counts [b_first, a_first, both, close] for the pairs (i < j) of the date columns' days (NaN: missing),
    with a = column i and b = column j."""
    rows = []
    for i in range(len(days)):
        for j in range(i + 1, len(days)):
            a, b = days[i], days[j]
            pa, pb = ~np.isnan(a), ~np.isnan(b)
            both = pa & pb
            with np.errstate(invalid="ignore"):
                b_first = (pb & ~pa) | (both & (b < a))
                a_first = (pa & ~pb) | (both & (a < b))
                close = both & (np.abs(b - a) <= CLOSE_DAYS)
            rows.append([b_first.sum(), a_first.sum(), both.sum(), close.sum()])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


class DateRelations(NamedTuple):
    """What the release found: ``gaps`` to model, ``orders`` to keep when sampling (pairs in order but far
    apart, or not implied by the gaps' anchors), and the ``mechanisms`` to charge."""

    gaps: list[DateGap]
    orders: list[DateOrder]
    mechanisms: list[Mechanism]


def detect_date_gaps(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    noise_multiplier: float | None,
    rng: np.random.Generator,
) -> DateRelations:
    """The relations among the date ``columns`` of ``df`` (public: chosen from names, dtypes or a declared
    schema) and the mechanism to charge (none without DP, ``noise_multiplier=None``, or with < 2 columns)."""
    names = list(columns)[:MAX_DATE_COLUMNS]
    if len(names) < 2:
        return DateRelations([], [], [])
    if len(columns) > MAX_DATE_COLUMNS:
        logger.info("date order: only the first %d date columns are tested for order", MAX_DATE_COLUMNS)
    private = noise_multiplier is not None
    units = {n: "D" if private else _unit(df[n]) for n in names}
    days = [date_days(df[n], units[n]) for n in names]
    counts = order_counts(days)
    mechanisms: list[Mechanism] = []
    sd = 0.0
    if private:
        nm = float(noise_multiplier) * ORDER_WEIGHT  # type: ignore[arg-type]
        sd = nm * float(np.sqrt(3 * len(counts)))
        counts = counts + rng.normal(0.0, sd, counts.shape)
        mechanisms.append(Gaussian("date-order", nm, count=1))
    follows: dict[str, list[str]] = {n: [] for n in names}  # column -> the columns it follows closely
    ordered: list[tuple[str, str]] = []  # (later, earlier): every pair in order, close or not
    k = 0
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            b_first, a_first, both, close = counts[k]
            k += 1
            named = _named(names[i], names[j])
            signal = MIN_SIGNAL if named is None else NAMED_MIN_SIGNAL
            if both < (signal * sd if private else MIN_EXACT_ROWS):
                continue
            pair = None
            if named != "a" and b_first <= MAX_DISORDER * both + 2 * sd:
                pair = (names[j], names[i])
            elif named != "b" and a_first <= MAX_DISORDER * both + 2 * sd:
                pair = (names[i], names[j])
            if pair is not None:
                ordered.append(pair)
                if close >= MIN_CLOSE * both - 2 * sd:
                    follows[pair[0]].append(pair[1])
    rank = {n: (len(follows[n]), names.index(n)) for n in names}
    gaps = []
    for n in names:
        earlier = [a for a in follows[n] if rank[a] < rank[n]]
        if earlier:
            anchor = max(earlier, key=lambda a: rank[a])
            gaps.append(DateGap(n, anchor, dtype=str(df[n].dtype), time_unit=units[n]))
    anchors = {g.column: g.anchor for g in gaps}

    def implied(later: str, earlier: str) -> bool:  # later = earlier + gap + gap …: in order by construction
        node = later
        while node in anchors:
            node = anchors[node]
            if node == earlier:
                return True
        return False

    orders = [DateOrder(a, b) for a, b in ordered if not implied(a, b)]
    return DateRelations(gaps, orders, mechanisms)


def _named(a: str, b: str) -> str | None:
    """Which of two date columns the names put last (:func:`~ehrsynth.naming.is_named_date_order`): "b", "a"
    or None."""
    if is_named_date_order(a, b):
        return "b"
    if is_named_date_order(b, a):
        return "a"
    return None


def _unit(s: pd.Series) -> str:
    days = date_days(s, "s")
    days = days[~np.isnan(days)]
    return "D" if bool(np.all(days == np.floor(days))) else "s"
