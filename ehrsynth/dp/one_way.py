"""One DP release of every column's 1-way marginal: it discovers the domains AND sets the calibration targets.

What it releases (all Gaussian mechanisms on add/remove-one-row neighbours, recorded in ``privacy.json``):

1. ``marginals:row-bound`` — a noisy histogram of how many cells each row touches (below); its 99th percentile
   is the per-row bound ``B``. L2 sensitivity 1.
2. ``marginals:1-way`` — ONE joint release of the cell counts of every column: category values (thresholded,
   so a value held by one row is released with probability ≤ 1e-10), the missing cell, the 1-cell of 0/1
   columns, the cells of a fixed signed-log grid (10 per decade; integer columns on integer-aligned cells) for
   numbers, and for decimal columns the count of non-integral values. A row *touches* one cell per
   categorical column and, for the other columns, only a nonzero or missing value (zeros are the remainder
   ``n - Σ cells``, ``n`` public), so wide sparse code tables stay cheap. Rows touching more than ``B`` cells
   keep the first ``B`` in column order (a fixed public order; only the ~1 % of rows above the 99th
   percentile are affected). L2 sensitivity √B.
3. ``marginals:zoom-1..3`` — numeric cells that pass the noise threshold are split into 8 and their children
   measured (adaptive composition: which cells are split is post-processing of earlier releases), three
   times, so a year column reaches single years and a lab value ~0.05 % of its magnitude. Each row touches at
   most one child per column: L2 sensitivity √min(k, B).

Post-processing (free): cells below a Bonferroni-corrected noise threshold are zeroed and children are rescaled
to their parent's estimate; a column's missing rate is kept only when significant (a column without missing
values gets none); category values that do not pass the threshold are merged into one ``"other"`` value
(numeric-coded categories: into missing) when their estimated mass is significant; integer columns whose mass
sits on at most :data:`MAX_CODE_VALUES` integers become categorical (``{3, 6, 7}`` is never widened to
``3..7``) or binary, unless declared a count or continuous number; the mass the thresholds lost goes back
into a declared range and empty cells inside its support get their noisy counts
(:mod:`ehrsynth.dp.declared_range`), instead of all of it going to the passing cells; numbers get a piecewise-linear CDF (``knots``/``cdf``) that the quantile encoding and the
calibration use. A numeric column with significant mass that no cell can localise is refused with a message
naming the column (declare its range), unless its name says key (``row_id``, ``*_nbr``…): many distinct values
that nothing localises make it an identifier (fresh surrogate keys), not a refusal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ehrsynth.dp import domain
from ehrsynth.dp.accounting import Gaussian, Mechanism
from ehrsynth.dp.numeric_zoom import zoom
from ehrsynth.dp.one_way_numeric import (
    FALSE_CELL_RATE,
    SIGNIFICANT_Z,
    ZOOM_LEVELS,
    Cells,
    Spec,
    family_z,
    finish_numeric,
    level0,
    numeric_cells,
    numeric_stub,
    thresholded_loss,
)
from ehrsynth.dp.time_of_day import release_hours
from ehrsynth.errors import InvalidDataError
from ehrsynth.naming import KEY_NAMES
from ehrsynth.schema import Column, Kind, Scalar

ROW_BOUND_QUANTILE = 0.99
#: each release's noise multiplier relative to the 1-way release's (the one every column depends on): the
#: row bound is a coarse quantile, the zeros and zoom releases refine; so the 1-way release gets the most
NOISE_WEIGHTS = {"row-bound": 3.0, "1-way": 1.0, "zoom": 1.5, "hours": 3.0}
ROW_BOUND_FALSE_RATE = 1e-4
MISSING_FALSE_RATE = 0.01  # per release: chance that a column without missing values is made nullable
OTHER_LABEL = "other"
#: the released values of a categorical column leaving more than SPREAD_Z sd of rows unaccounted for (but
#: fewer than an 'other' value needs) are named in a warning: their values were likely dropped and their rows
#: spread over the released values (diabetes encounters at ε = 1: metformin lost 'Up'/'Down', 1.6 % of rows,
#: with no warning). About 2 % of columns without dropped values are named too: the warning says "may".
SPREAD_Z = 2.0
#: a number without a declared range whose level-0 threshold cut more than TRIMMED_Z sd of rows, and at least
#: TRIMMED_SHARE of its non-missing rows, is named in a warning: its synthetic values span less than the real
#: ones. ACTG 175 (2,139 rows, no schema) at ε = 1: ``days`` (real 14-1,231) released as 800-1,194 after
#: losing ~640 rows (5.0 sd), ``preanti`` ~670 rows (4.3 sd), with no warning (stop 24 probe, seed 0). At 2 sd
#: a uniform column released edge to edge was named at 1.95 sd; 3 sd names ~0.1 % of such columns.
TRIMMED_Z = 3.0
TRIMMED_SHARE = 0.02


@dataclass
class Release:
    """The outcome: one schema column per spec (None: not released), the mechanisms, notes for warnings."""

    columns: dict[str, Column | None]
    mechanisms: list[Mechanism]
    merged: dict[str, float] = field(default_factory=dict)  # column -> estimated rows merged into 'other'
    # column -> rows the released values leave unaccounted for, too few for 'other' (see SPREAD_Z)
    spread: dict[str, float] = field(default_factory=dict)
    # column -> (rows the numeric threshold cut, released range as text) (see TRIMMED_Z)
    trimmed: dict[str, tuple[float, str]] = field(default_factory=dict)
    row_bound: int = 0
    #: column -> released time-of-day shares (:mod:`ehrsynth.dp.time_of_day`), for dates with times
    time_of_day: dict[str, list[float]] = field(default_factory=dict)


# -- the release ------------------------------------------------------------------------------------------------
def release_one_way(
    df: pd.DataFrame,
    specs: list[Spec],
    *,
    noise_multiplier: float,
    rng: np.random.Generator,
    values: dict[str, np.ndarray],
    times: dict[str, np.ndarray] | None = None,
) -> Release:
    """Run the release (see the module docstring). ``values``: float arrays of numeric columns (dates as days).

    ``noise_multiplier`` is σ / sensitivity of the 1-way release (:func:`one_way_noise`); the others use it
    times :data:`NOISE_WEIGHTS`. ``times``: the time within its day of each row's date
    (:func:`~ehrsynth.dp.time_of_day.day_fraction`) for the date columns (or date-gap columns) whose time of
    day is released (:mod:`ehrsynth.dp.time_of_day`), in one more Gaussian (weight ``NOISE_WEIGHTS["hours"]``;
    :func:`one_way_noise` must be told, ``hours=True``).
    """
    n = len(df)
    nm = float(noise_multiplier)
    times = {
        k: v for k, v in (times or {}).items() if any(s.name == k and s.role == "numeric" for s in specs)
    }
    touched = _touched(df, specs, values)
    max_cells = 2 * len(specs)  # public: at most two cells per column (a value and the fractional count)
    bound, q_mech = _row_bound(touched.sum(axis=1), max_cells, _round(nm * NOISE_WEIGHTS["row-bound"]), rng)
    keep = (touched > 0) & (np.cumsum(touched, axis=1) <= bound)  # first columns in a fixed public order
    sigma = nm * math.sqrt(bound)
    mechanisms: list[Mechanism] = [q_mech]
    tau = domain.release_threshold(sigma, bound)
    thresholded = [s for s in specs if s.role == "code" or (s.role == "categorical" and not _fixed(s))]
    delta_tau = domain.single_row_release_probability(tau, sigma, bound) if thresholded else 0.0
    mechanisms.append(Gaussian("marginals:1-way", nm, count=1, delta=delta_tau))
    out = Release(columns={}, mechanisms=mechanisms, row_bound=bound)
    numeric: dict[str, Cells] = {}
    # a column is nullable only when its missing count clears the noise, Bonferroni over the columns (on a
    # 200-code table a 3σ bar alone would invent missing values in some code)
    z_missing = max(SIGNIFICANT_Z, float(-ndtri(MISSING_FALSE_RATE / max(len(specs), 1))))
    # every numeric cell is tested alone and (while empty) in aligned groups of 2–16, ~0.94 more tests per
    # cell (cell_threshold.threshold_groups): both count in the Bonferroni family
    n_cells = sum(2 * len(level0(s)[0]) + 2 for s in specs if s.role == "numeric") + 2 * len(specs)
    z_cell = float(-ndtri(FALSE_CELL_RATE / max(n_cells, 1)))
    z_numeric = family_z(sum(1 for s in specs if s.role == "numeric"))
    for j, spec in enumerate(specs):
        rows = keep[:, j]
        s = df[spec.name]
        missing = s.isna().to_numpy()
        noisy_missing = float((rows & missing).sum() + rng.normal(0.0, sigma))
        rate = min(noisy_missing / n, 1.0) if noisy_missing > z_missing * sigma else 0.0
        if spec.role == "numeric":
            try:
                cells, fractional, decimals = numeric_cells(
                    spec, values[spec.name], rows & ~missing, sigma, z_cell, rng, z_numeric
                )
            except InvalidDataError:
                if not _declared_range(spec):
                    raise
                # nothing localisable at this noise, but the range is public: its flat CDF, as below
                out.columns[spec.name] = _uniform_declared(numeric_stub(spec, rate, False), spec)
                continue
            numeric[spec.name] = cells
            out.columns[spec.name] = numeric_stub(spec, rate, fractional, decimals)
        elif spec.role in ("binary", "code"):
            ones = float((rows & ~missing & (_nonzero(s))).sum() + rng.normal(0.0, sigma))
            if spec.role == "code" and ones <= tau:
                out.columns[spec.name] = None
                continue
            share = min(max(ones, 0.0) / max(n * (1.0 - rate), 1.0), 1.0)
            out.columns[spec.name] = Column(
                spec.name, Kind.BINARY, nullable=rate > 0, frequencies=[share], missing_rate=rate,
                dtype=spec.dtype,
            )  # fmt: skip
        else:
            out.columns[spec.name] = _categorical(spec, s[rows & ~missing], n, rate, sigma, tau, out, rng)
    if times:
        _release_times(out, df, times, _round(nm * NOISE_WEIGHTS["hours"]), rng)
    if numeric:
        zoomed, zoom_mechs = zoom(
            specs, numeric, keep, values, bound, _round(nm * NOISE_WEIGHTS["zoom"]), rng
        )
        mechanisms.extend(zoom_mechs)
        spread: list[str] = []
        for name, cells in zoomed.items():
            stub, spec = out.columns[name], next(s for s in specs if s.name == name)
            if stub is None:
                continue
            loss = thresholded_loss(stub, cells, n, spec)
            try:
                out.columns[name] = finish_numeric(stub, cells, n, spec, z_numeric)
            except InvalidDataError:
                if spec.declared is None and KEY_NAMES.search(name):
                    # a number named like a key whose values nothing localises: many distinct values, a key
                    out.columns[name] = Column(name, Kind.IDENTIFIER, dtype=spec.dtype)
                    continue
                if not _declared_range(spec):
                    spread.append(name)
                    continue
                out.columns[name] = _uniform_declared(stub, spec)  # public range: spread over it
                continue
            _note_trimmed(out, name, loss)
        if spread:
            shown = ", ".join(repr(c) for c in spread)
            raise InvalidDataError(
                f"column(s) {shown}: values too spread out for their distribution to be released at this budget "
                "(no part of the grid holds enough rows above the noise); declare their ranges in a schema "
                "(kind and 'lower'/'upper': public, spends no budget), raise epsilon, or drop them",
                column=spread[0],
            )
    return out


def _release_times(
    out: Release, df: pd.DataFrame, times: dict[str, np.ndarray], nm: float, rng: np.random.Generator
) -> None:
    """The time-of-day release (:mod:`ehrsynth.dp.time_of_day`): one hour histogram per date column in ONE
    Gaussian; a row adds 1 to at most one hour of each of the ``len(times)`` columns (sensitivity √that, no
    row bound needed), so σ = ``nm``·√len(times)."""
    sigma = nm * math.sqrt(len(times))
    out.mechanisms.append(Gaussian("marginals:hours", nm, count=1))
    n = len(df)
    for name, fraction in times.items():
        col = out.columns.get(name)
        rate = float(col.missing_rate or 0.0) if col is not None else 0.0
        rows = df[name].notna().to_numpy()
        hours = release_hours(fraction, rows, n * (1.0 - rate), sigma, rng)
        if hours is not None:
            out.time_of_day[name] = hours


def _note_trimmed(out: Release, name: str, loss: tuple[float, float, float] | None) -> None:
    """Record a number whose threshold cut a significant share of its rows (:data:`TRIMMED_Z`)."""
    col = out.columns.get(name)
    if loss is None or col is None or col.kind not in (Kind.COUNT, Kind.CONTINUOUS, Kind.DATETIME):
        return
    lost, sd, nonmissing = loss
    if lost > TRIMMED_Z * sd and lost >= TRIMMED_SHARE * nonmissing and col.lower is not None:
        lo, hi = float(col.lower), float(col.upper if col.upper is not None else col.lower)
        if col.kind is Kind.DATETIME:  # released in days since 1970-01-01
            shown = [str((pd.Timestamp(0) + pd.Timedelta(days=v)).date()) for v in (lo, hi)]
        else:
            shown = [f"{v:.4g}" for v in (lo, hi)]
        out.trimmed[name] = (lost, f"{shown[0]} to {shown[1]}")


def _declared_range(spec: Spec) -> bool:
    col = spec.declared
    return col is not None and col.lower is not None and col.upper is not None


def _uniform_declared(stub: Column, spec: Spec) -> Column:
    """A declared (public) range whose released cells hold nothing localisable: the flat CDF over it."""
    from ehrsynth.transforms.numeric import uniform_cdf

    col = spec.declared
    lo, hi = float(col.lower), float(col.upper)  # type: ignore[union-attr, arg-type]
    knots, cdf = uniform_cdf(lo, hi, integer=spec.integer)
    return Column(
        stub.name, stub.kind, nullable=stub.nullable, lower=lo, upper=hi, decimals=0 if spec.integer else None,
        dtype=stub.dtype, time_unit=stub.time_unit, knots=knots, cdf=cdf, missing_rate=stub.missing_rate,
    )  # fmt: skip


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def one_way_noise(
    *, epsilon: float, delta: float, share: float, accountant: str, hours: bool = False
) -> float:
    """The 1-way release's noise multiplier when the whole release (row bound, 1-way, zeros, zoom levels, and
    with ``hours`` the dates' time of day, with :data:`NOISE_WEIGHTS`) spends ``share * epsilon`` measured
    alone; pass it to :func:`release_one_way`. ``hours``: the table has date columns whose time of day is
    released (public: from names and dtypes), so tables without dates pay nothing for it."""
    from ehrsynth.dp.calibration import Phase, calibrate_noise

    w = NOISE_WEIGHTS
    phases = [
        Phase("row-bound", 1.0, 1, weight=w["row-bound"]),
        Phase("1-way", 1.0, 1, weight=w["1-way"]),
        Phase("zoom", 1.0, ZOOM_LEVELS + 1, weight=w["zoom"]),  # + the zeros release
    ]
    if hours:
        phases.append(Phase("hours", 1.0, 1, weight=w["hours"]))
    mechanisms = calibrate_noise(
        phases, epsilon=share * epsilon, delta=delta, accountant=accountant, max_noise_multiplier=1e4
    )
    return next(m.noise_multiplier for m in mechanisms if m.name == "1-way")


def _fixed(spec: Spec) -> bool:
    return spec.declared is not None and bool(spec.declared.categories)


def _nonzero(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.fillna(0).to_numpy(dtype="float64") != 0
    return s.notna().to_numpy()


def _touched(df: pd.DataFrame, specs: list[Spec], values: dict[str, np.ndarray]) -> np.ndarray:
    """How many cells of the 1-way release each row adds 1 to, one column per spec: a categorical always one
    (its value or missing); a numeric column one for a nonzero or missing value (every value when dense) plus
    one when a decimal column's value is non-integral (the 'fractional' count); 0/1 columns one for a 1 or
    missing."""
    t = np.zeros((len(df), len(specs)), dtype=np.int64)
    for j, spec in enumerate(specs):
        s = df[spec.name]
        if spec.role == "categorical":
            t[:, j] = 1
        elif spec.role == "numeric":
            x = values[spec.name]
            finite = np.isfinite(x)
            t[:, j] = (~finite | (x != 0) | spec.dense).astype(np.int64)
            if not spec.integer:
                t[:, j] += finite & (x != np.round(x))
        else:
            t[:, j] = s.isna().to_numpy() | _nonzero(s)
    return t


def _row_bound(
    per_row: np.ndarray, max_cells: int, nm: float, rng: np.random.Generator
) -> tuple[int, Gaussian]:
    """DP 99th percentile of cells touched per row: a noisy histogram over the public domain 0..max_cells
    (a row changes one bin by 1: sensitivity 1)."""
    width = max_cells + 1
    hist = np.bincount(np.minimum(per_row, max_cells).astype(np.int64), minlength=width).astype(np.float64)
    noisy = np.clip(hist + rng.normal(0.0, nm, size=width), 0.0, None)
    # post-processing: zero bins below a Bonferroni bar over the domain, so the noise of its many empty bins
    # does not move the quantile: one noise bin far out would set a huge bound (an empty bin survives with
    # probability ≤ ROW_BOUND_FALSE_RATE in all; a bound a little low only truncates a few rows more)
    noisy = np.where(noisy > nm * float(-ndtri(ROW_BOUND_FALSE_RATE / width)), noisy, 0.0)
    cum = np.cumsum(noisy)
    bound = int(np.searchsorted(cum, ROW_BOUND_QUANTILE * cum[-1])) if cum[-1] > 0 else max_cells
    return max(bound, 1), Gaussian("marginals:row-bound", nm, count=1)


def _categorical(
    spec: Spec,
    present: pd.Series,
    n: int,
    rate: float,
    sigma: float,
    tau: float,
    out: Release,
    rng: np.random.Generator,
) -> Column:
    counts = present.value_counts(sort=False)
    by_key = {domain._plain(v): float(c) for v, c in counts.items()}
    if _fixed(spec):
        keys: list[Any] = list(spec.declared.categories or [])  # type: ignore[union-attr]
        noisy = np.asarray([by_key.get(k, 0.0) for k in keys]) + rng.normal(0.0, sigma, size=len(keys))
        kept = list(range(len(keys)))
    else:
        keys = domain._sorted(list(by_key))
        noisy = np.asarray([by_key[k] for k in keys]) + rng.normal(0.0, sigma, size=len(keys))
        kept = [i for i, c in enumerate(noisy) if c > tau]
    cats: list[Scalar] = [keys[i] for i in kept]
    mass = [max(float(noisy[i]), 0.0) for i in kept]
    other_mass = n * (1.0 - rate) - sum(mass)
    other: Scalar | None = None
    other_sd = sigma * math.sqrt(len(kept) + 1)  # noise of the remainder n(1 - rate) - sum of kept masses
    if not _fixed(spec) and SPREAD_Z * other_sd < other_mass <= SIGNIFICANT_Z * other_sd:
        out.spread[spec.name] = other_mass  # likely dropped values, too few for 'other': spread over the rest
    if not _fixed(spec) and other_mass > SIGNIFICANT_Z * other_sd:
        out.merged[spec.name] = other_mass
        if spec.numeric_coded:  # numbers: merged values become missing (documented)
            rate = min(rate + other_mass / n, 1.0)
        else:
            other = OTHER_LABEL if OTHER_LABEL not in cats else f"{OTHER_LABEL} (merged)"
            cats.append(other)
            mass.append(other_mass)
    if not kept and (spec.numeric_coded or KEY_NAMES.search(spec.name) or other is None):
        # no value released: a key (fresh surrogates), or refused by the caller; a text column whose values
        # are all rare is kept as one 'other' value (and missing), as the issue of merged values asks
        return Column(spec.name, Kind.IDENTIFIER, dtype=spec.dtype)
    total = sum(mass)
    freq = [m / total if total > 0 else 1.0 / len(mass) for m in mass]
    return Column(
        spec.name, Kind.CATEGORICAL, nullable=rate > 0, categories=cats, frequencies=freq,
        missing_rate=rate, dtype=spec.dtype, other=other,
    )  # fmt: skip
