"""The time of day of dates under differential privacy, released with the 1-way marginals.

Under DP a date is modelled in whole days (the 1-way release, date order and date gaps all read days), so its
time of day would be lost: every synthetic timestamp would read midnight. This module releases it apart, as
one noisy histogram per date column in one more Gaussian release of the 1-way block
(:mod:`ehrsynth.dp.one_way`, ``marginals:hours``, noise weight ``NOISE_WEIGHTS["hours"]``): a row whose date
has a time other than exactly 00:00:00 adds 1 to the cell of its hour, at most one cell per date column, so
the release's L2 sensitivity is √(date columns). Which columns are dates is public (names, dtypes, a declared
schema), so the block's noise is calibrated with this release whenever the table has dates and without it
otherwise.

Post-processing of the noisy counts (no more data access): the column has times when the noisy total clears
``SIGNIFICANT_Z`` sd of the summed noise; its hours are the counts clipped at 0; the rest of its non-missing
rows (estimated from the release) sit at exactly midnight, kept when they clear the same bar. The result is
``Column.time_of_day`` (:data:`~ehrsynth.kinds.TIME_OF_DAY_CELLS` shares: midnight, then the 24 hours), which
sampling draws times from (:mod:`ehrsynth.transforms.times`), independently of everything else in the row:
the dependence of the hour on the other columns is not learnt. A column without times (dates only) keeps
``time_of_day`` None and comes back as dates.
"""

from __future__ import annotations

import math

import numpy as np

from ehrsynth.dp.cell_threshold import SIGNIFICANT_Z
from ehrsynth.kinds import TIME_OF_DAY_CELLS

HOURS = TIME_OF_DAY_CELLS - 1


def day_fraction(days: np.ndarray) -> np.ndarray:
    """The time within its day of each date given as days since 1970 (to the second, e.g.
    ``date_days(s, "s")``), as a fraction of a day in [0, 1) (NaN: missing)."""
    return days - np.floor(days)


def timed(fraction: np.ndarray) -> np.ndarray:
    """Rows whose date has a time other than exactly midnight (the rows that touch an hour cell)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(fraction) & (fraction > 0)


def hour_counts(fraction: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The exact hour histogram of ``rows`` whose date has a time (a row adds 1 to one hour, or to none)."""
    hit = rows & timed(fraction)
    hours = np.clip(np.floor(fraction[hit] * HOURS), 0, HOURS - 1).astype(np.int64)
    return np.bincount(hours, minlength=HOURS).astype(np.float64)


def release_hours(
    fraction: np.ndarray, rows: np.ndarray, nonmissing: float, sigma: float, rng: np.random.Generator
) -> list[float] | None:
    """The released time-of-day shares of one date column (None: no significant times, dates only).

    ``rows``: the rows this column's cells are counted for (within the release's row bound, not missing);
    ``nonmissing``: the column's non-missing rows as the release estimates them; ``sigma``: the noise of one
    count of the 1-way release."""
    noisy = hour_counts(fraction, rows) + rng.normal(0.0, sigma, HOURS)
    bar = SIGNIFICANT_Z * sigma * math.sqrt(HOURS)
    if noisy.sum() <= bar:
        return None
    mass = np.clip(noisy, 0.0, None)
    midnight = max(nonmissing - float(mass.sum()), 0.0)
    if midnight <= bar:
        midnight = 0.0
    shares = np.concatenate([[midnight], mass])
    return (shares / shares.sum()).tolist()
