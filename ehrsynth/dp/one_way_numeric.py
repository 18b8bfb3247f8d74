"""The numeric half of the 1-way release (:mod:`ehrsynth.dp.one_way`): a fixed signed-log grid of cells,
thresholds that keep real mass and drop noise, and the post-processing that turns cells into a column's
released CDF (or a 0/1 / categorical column for integer codes); the zoom releases that split passing cells
are in :mod:`ehrsynth.dp.numeric_zoom`. Every function here is post-processing of noisy counts except
:func:`numeric_cells` (level 0, part of the joint 1-way release)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm

from ehrsynth.dp import domain
from ehrsynth.dp.cell_threshold import SIGNIFICANT_Z, threshold_groups
from ehrsynth.dp.declared_range import (
    coarse,
    declared_bounds,
    fill_declared,
    level0_under,
)
from ehrsynth.dp.precision import release_decimals, resolution_decimals
from ehrsynth.errors import InvalidDataError
from ehrsynth.naming import KEY_NAMES, is_category_name
from ehrsynth.schema import Column, Kind

ZOOM_LEVELS = 3
MAX_CODE_VALUES = 16
MAX_KEY_CODE_VALUES = 64  # integer codes named like keys (admission_source_id, discharge_disposition_id)
KEY_CODE_SPILL = 0.05
KEY_CODE_MIN_ROWS = 5.0  # median rows per value of a key-named code
#: per release: chance that any empty cell (or aligned group of empty cells) survives the threshold. It was
#: 0.05 with the groups left out of the family: a table of twelve 0/1 codes at ε = 3 then still got a code
#: column with values in the thousands or millions in 3 fits of 60 after the neighbour fix of
#: cell_threshold.grow (tests/unit/test_one_way.py)
FALSE_CELL_RATE = 0.01


@dataclass
class Spec:
    """How one column enters the release; decided from names, dtypes and a declared schema only."""

    name: str
    role: str  # categorical | binary | numeric | code
    integer: bool = False
    numeric_coded: bool = False  # a categorical whose values are numbers (no 'other' label possible)
    declared: Column | None = None  # a declared column (kind, maybe categories or bounds)
    dtype: str | None = None
    datetime: bool = False

    @property
    def dense(self) -> bool:
        """Every row touches a cell (0 is an ordinary value, e.g. a date of 1970-01-01)."""
        return self.datetime


@dataclass
class Cells:
    """Numeric cells of one column: half-open intervals [lo, hi) with their (post-processed) counts."""

    lo: np.ndarray
    hi: np.ndarray
    count: np.ndarray
    zero: float | None = None  # the measured count of zeros (None: zeros are the remainder)
    zero_sd: float = 0.0  # its noise
    one: float = 0.0  # the unthresholded noisy count of the cell holding 1 (a rare 0/1 code's prevalence)
    one_sd: float = 0.0  # its noise
    level0: tuple[np.ndarray, np.ndarray, np.ndarray] | None = (
        None  # level-0 (lo, hi, noisy counts) as released
    )
    level0_sd: float = 0.0  # the noise of one level-0 count
    #: per cell: its mass was measured on its own (a level-0 cell above the bar, or a child of a split cell);
    #: False for cells filled by an aligned group or grown next to the bulk (numeric_zoom._merge_children). None: all
    solo: np.ndarray | None = None


# -- grids ----------------------------------------------------------------------------------------------------
def _float_edges() -> np.ndarray:
    mags = domain._magnitudes()[1:]  # 1e-3 ... 1e9 (10 per decade) ... 1e18 (one per decade)
    return np.concatenate([-mags[::-1], [0.0], mags])


def _int_edges() -> np.ndarray:
    mags = np.unique(np.ceil(domain._magnitudes()[1:]))
    mags = mags[mags >= 1]
    return np.unique(np.concatenate([-mags[::-1], [0.0], mags]))


FLOAT_EDGES = _float_edges()
INT_EDGES = _int_edges()


def level0(spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """Level-0 cells [lo, hi): a declared range cut into 64 parts, else the signed-log grid."""
    col = spec.declared
    if col is not None and col.lower is not None and col.upper is not None:
        top = float(col.upper) + (1.0 if spec.integer else 0.0)
        edges = np.linspace(float(col.lower), max(top, float(col.lower) + 1e-9), 65)
        if spec.integer:
            edges = np.unique(np.ceil(edges))
        if edges[0] < 0 < edges[-1]:
            edges = np.union1d(edges, [0.0])
        if spec.integer and not spec.dense and edges[0] <= 0 < edges[-1]:
            # the zero cell holds only zeros (measured apart): [0, 1), not the first 1/64 of the range
            edges = np.union1d(edges, [0.0, 1.0])
    else:
        edges = INT_EDGES if spec.integer else FLOAT_EDGES
    return edges[:-1], edges[1:]


def cell_index(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, clip: bool = True) -> np.ndarray:
    """Cell of each value among sorted cells (-1 outside every cell, NaN included; ``clip``: values beyond
    the first/last cell go to it)."""
    i = np.searchsorted(lo, x, side="right") - 1
    ok = (i >= 0) & (x < hi[np.clip(i, 0, len(hi) - 1)])
    if not clip:
        return np.where(ok, i, -1)
    outside_hi = x >= hi[-1]
    i = np.where(outside_hi, len(lo) - 1, i)  # beyond the grid: the outermost cells
    i = np.where(x < lo[0], 0, i)
    return np.where(ok | outside_hi | (x < lo[0]), i, -1)


def _zero_cell(lo: np.ndarray, hi: np.ndarray) -> int:
    z = np.flatnonzero((lo <= 0) & (hi > 0))
    return int(z[0]) if len(z) else -1


def _zeros_and_ones(cells: Cells, nonmissing: float, spec: Spec, z: float = SIGNIFICANT_Z) -> bool:
    """Whether a column where no cell passed is consistent with a 0/1 code: its nonzero mass (from the
    measured zeros) is not more than ``z`` sd above the noisy count of the cell holding 1. A column declared
    a number (count or continuous) counts only when its nonzero mass is itself insignificant (mostly zeros):
    at high noise the first test cannot reject a column of 1-6 values, which must not come back 0/1."""
    nonzero = nonmissing - float(cells.zero or 0.0)
    if _declared_number(spec):
        return nonzero <= z * max(cells.zero_sd, 1.0)
    sd = math.hypot(cells.zero_sd, cells.one_sd)
    return nonzero - cells.one <= z * max(sd, 1.0)


def family_z(columns: int) -> float:
    """The z of :func:`_zeros_and_ones` when ``columns`` numeric columns are tested in one release: each
    test's false-refusal rate is divided by their number (Bonferroni), so a table of many rare 0/1 codes
    stays refused with at most the chance one column has at ``SIGNIFICANT_Z`` (0.13 %).

    A false refusal stops the whole fit. Measured: diabetes 8,000 patients × 208 columns at ε = 1 refused
    the 0/1 code ``dx_079`` (16 ones): its zeros, the remainder after ~28 noisy cells, came out 3.3 sd low.
    200 columns give z = 4.35."""
    rate = float(norm.sf(SIGNIFICANT_Z)) / max(int(columns), 1)
    return max(SIGNIFICANT_Z, float(norm.isf(rate)))


def _declared_number(spec: Spec) -> bool:
    return spec.declared is not None and spec.declared.kind in (Kind.COUNT, Kind.CONTINUOUS)


# -- numbers ----------------------------------------------------------------------------------------------------
def numeric_cells(
    spec: Spec,
    x: np.ndarray,
    rows: np.ndarray,
    sigma: float,
    z: float,
    rng: np.random.Generator,
    z_total: float = SIGNIFICANT_Z,
) -> tuple[Cells, bool, int | None]:
    """Level-0 noisy cells of one column (zero cell left out: it is the remainder), whether its values are
    decimals, and how many decimals they are written with (:func:`~ehrsynth.dp.precision.release_decimals`; None when not released)."""
    lo, hi = level0(spec)
    v = x[rows & np.isfinite(x) & ((x != 0) | spec.dense)]
    counts = np.bincount(np.clip(cell_index(v, lo, hi), 0, None), minlength=len(lo)).astype(np.float64)
    noisy = counts + rng.normal(0.0, sigma, size=len(lo))
    zc = _zero_cell(lo, hi)
    if zc >= 0 and spec.integer and not spec.dense:
        noisy[zc] = 0.0  # the integer cell [0, 1) holds only zeros: the remainder, never measured
    one_cell = int(cell_index(np.asarray([1.0]), lo, hi)[0])
    fractional, decimals = False, None
    if not spec.integer:
        fractional, decimals = release_decimals(v, sigma, spec.datetime, rng, SIGNIFICANT_Z)
    blocked = zc if zc >= 0 and spec.integer and not spec.dense else -1
    kept = threshold_groups(noisy, sigma, z, blocked, z_total, narrow=(hi - lo) <= 1.0)
    if kept is not None and spec.dense and not kept.any():
        # a date has no zero remainder: "no significant mass" means nothing was localised, not "all zeros"
        # (MIMIC-III PATIENTS, 100 rows, ε = 3: every `dob` came back 1970-01-02)
        kept = None
    if kept is None and not spec.dense:
        # nothing passed in a column whose zeros are measured apart (numeric_zoom.measure_zeros): the 0/1
        # test of finish_numeric on them decides, one test instead of two. This one sums the noise of every
        # cell (~190 for integers): at ε = 1 it refused the harness's 0/1 code dx_157 (18 ones) once.
        kept = np.zeros_like(noisy)
    if kept is None and declared_bounds(spec) is not None:
        kept = np.zeros_like(noisy)  # a public range: finish_numeric falls back to a coarse histogram of it
    if kept is None:
        raise InvalidDataError(
            f"column {spec.name!r}: its values are too spread out for their range to be released at this "
            "budget (no part of the grid holds enough rows above the noise); declare its range in a schema "
            '(kind and "lower"/"upper": public, spends no budget), raise epsilon, or drop the column',
            column=spec.name,
        )
    if not spec.integer and not fractional:  # integral values stored as floats: integer cells from here on
        lo, hi = np.ceil(lo), np.ceil(hi)
        spec.integer = True
    one = float(noisy[one_cell]) if one_cell >= 0 else 0.0
    released = (lo.copy(), hi.copy(), noisy.copy())
    cells = Cells(lo.copy(), hi.copy(), kept, one=one, one_sd=sigma, level0=released, level0_sd=sigma)
    cells.solo = noisy > z * sigma  # the cells threshold_groups kept on their own count
    return cells, fractional, decimals


def numeric_stub(spec: Spec, rate: float, fractional: bool, decimals: int | None = None) -> Column:
    """The column before its cells are zoomed; ``decimals``: released by :func:`~ehrsynth.dp.precision.release_decimals` (None: the
    release's resolution decides later)."""
    kind = Kind.DATETIME if spec.datetime else Kind.CONTINUOUS
    decimals = 0 if spec.integer or not fractional else decimals
    return Column(
        spec.name, kind, nullable=rate > 0, missing_rate=rate, dtype=spec.dtype, decimals=decimals,
        time_unit="D" if spec.datetime else None,
    )  # fmt: skip


def finish_numeric(stub: Column, cells: Cells, n: int, spec: Spec, z: float = SIGNIFICANT_Z) -> Column:
    """Cells + the zero remainder → a CDF (knots/cdf), or a categorical/binary column for integer codes;
    ``z``: the 0/1-code test's threshold (:func:`family_z` of the number of numeric columns released)."""
    nonmissing = n * (1.0 - float(stub.missing_rate or 0.0))
    total = float(cells.count.sum())
    if total == 0 and cells.zero is not None and not _zeros_and_ones(cells, nonmissing, spec, z):
        cells = coarse(cells, spec)  # a declared range: a coarse histogram over it
        total = float(cells.count.sum())
        if total == 0:
            raise _too_spread(spec)  # most values are nonzero, but no part of the grid holds enough of them
    if spec.dense:
        zero = 0.0  # zeros were measured in their cell like any value
    elif cells.zero is not None:  # measured: the nonzero cells share what is not zero (thresholding losses)
        zero = min(cells.zero, nonmissing)
        if total > 0 and declared_bounds(spec) is not None:  # lost mass back inside the public range
            cells = fill_declared(cells, spec, nonmissing - zero)
        cells = _rescaled(cells, nonmissing - zero)
    else:
        zero = max(nonmissing - total, 0.0)
    lo, hi, mass = _leaves(cells, zero, spec)
    if spec.integer:
        coded = _as_codes(stub, lo, hi, mass, spec)
        if coded is not None:
            return coded
    order = np.argsort(lo, kind="stable")
    lo, hi, mass = lo[order], hi[order], mass[order]
    knots = np.unique(np.concatenate([lo, hi]))
    cum = np.zeros(len(knots))
    for _a, b, m in zip(lo, hi, mass, strict=True):  # leaves are disjoint: add each to the CDF after it
        cum[knots >= b] += m
    total = cum[-1] if cum[-1] > 0 else 1.0
    cdf = cum / total
    upper = float(knots[-1] - 1.0) if spec.integer else float(knots[-1])
    kind = Kind.COUNT if stub.kind is Kind.CONTINUOUS and spec.integer and knots[0] >= 0 else stub.kind
    decimals = (
        0 if spec.integer else stub.decimals if stub.decimals is not None else resolution_decimals(lo, hi)
    )
    return Column(
        stub.name, kind, nullable=stub.nullable, lower=float(knots[0]), upper=max(upper, float(knots[0])),
        decimals=decimals, dtype=stub.dtype, time_unit=stub.time_unit,
        knots=knots.tolist(),
        cdf=cdf.tolist(), missing_rate=stub.missing_rate,
    )  # fmt: skip


def thresholded_loss(stub: Column, cells: Cells, n: int, spec: Spec) -> tuple[float, float, float] | None:
    """Rows the level-0 threshold took from a number WITHOUT a declared range (cells too sparse to release,
    usually its tails), the noise sd of that estimate, and the column's non-missing rows (all estimated from
    the release). The rows taken are the non-missing, non-zero rows less the released
    cells' total (post-processing). :func:`finish_numeric` gives those rows to the released cells, so the
    synthetic values span less than the real ones; the release names such columns in a warning. None where
    it is not measured (zeros not counted apart, a declared range: its lost mass is put back)."""
    if declared_bounds(spec) is not None or cells.level0 is None or (cells.zero is None and not spec.dense):
        return None
    nonmissing = n * (1.0 - float(stub.missing_rate or 0.0))
    zero = 0.0 if spec.dense else min(float(cells.zero or 0.0), nonmissing)
    lost = nonmissing - zero - float(cells.count.sum())
    under = level0_under(cells.level0[0], cells.level0[1], cells.lo, cells.hi, cells.count)
    # the released cells' level-0 counts, the missing count and the measured zeros each carry their noise
    sd = math.sqrt(cells.level0_sd**2 * (under + 1) + cells.zero_sd**2)
    return lost, sd, nonmissing


def _rescaled(cells: Cells, nonzero_mass: float) -> Cells:
    """``cells`` scaled to hold ``nonzero_mass`` (the thresholds' losses shared out); unchanged when empty."""
    total = float(cells.count.sum())
    return replace(cells, count=cells.count * (nonzero_mass / total)) if total > 0 else cells


def _leaves(cells: Cells, zero: float, spec: Spec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, mass) of the cells with mass and the zero leaf [0, unit) (a rare 0/1 code: its cell of 1)."""
    unit = 1.0 if spec.integer else 1e-9
    lo = np.where((cells.lo == 0.0) & (not spec.dense), unit, cells.lo)  # the zero leaf [0, unit) first
    keep = cells.hi > lo
    lo = np.append(lo[keep], 0.0)
    hi = np.append(cells.hi[keep], unit)
    mass = np.append(cells.count[keep], zero)
    if spec.integer and not spec.dense and mass[:-1].sum() == 0 and cells.one > 0:  # a rare 0/1 code
        lo, hi, mass = np.append(lo, 1.0), np.append(hi, 2.0), np.append(mass, cells.one)
    has = mass > 0
    if not has.any():  # a dense column (no zero cell) of which no cell passed: nothing to place mass on
        raise _too_spread(spec)
    return lo[has], hi[has], mass[has]


def _too_spread(spec: Spec) -> InvalidDataError:
    return InvalidDataError(
        f"column {spec.name!r}: its values are too spread out for their distribution to be released at "
        "this budget; declare its range in a schema (kind and 'lower'/'upper': public, spends no budget), "
        "raise epsilon, or drop the column",
        column=spec.name,
    )


def _as_codes(stub: Column, lo: np.ndarray, hi: np.ndarray, mass: np.ndarray, spec: Spec) -> Column | None:
    """An integer column whose mass sits on a few single integers: binary (0/1) or categorical values. A
    code under a key name (``discharge_disposition_id``: 26 values) may hold up to :data:`MAX_KEY_CODE_VALUES`
    values, with up to :data:`KEY_CODE_SPILL` of its mass in wider cells (rare values the noise did not
    separate), which is dropped."""
    if spec.datetime:
        return None
    point = hi - lo == 1
    key_code = KEY_NAMES.search(spec.name) and not _declared_number(spec) and len(lo) <= MAX_KEY_CODE_VALUES
    common = point.any() and float(np.median(mass[point])) >= KEY_CODE_MIN_ROWS  # not a run of unique keys
    if key_code and common and mass[point].sum() >= (1.0 - KEY_CODE_SPILL) * mass.sum():
        lo, hi, mass = lo[point], hi[point], mass[point]
        point = point[point]
    if len(lo) > (MAX_KEY_CODE_VALUES if KEY_NAMES.search(spec.name) else MAX_CODE_VALUES) or not point.all():
        return None
    values = [int(v) for v in lo]
    share = mass / mass.sum()
    if _declared_number(spec):  # a declared count keeps its kind (decoded on its integer leaves)
        return None
    if set(values) <= {0, 1}:
        p1 = float(share[values.index(1)]) if 1 in values else 0.0
        return Column(
            stub.name, Kind.BINARY, nullable=stub.nullable, frequencies=[p1], missing_rate=stub.missing_rate,
            dtype=stub.dtype,
        )  # fmt: skip
    contiguous_from_zero = values == list(range(len(values)))
    if contiguous_from_zero and not is_category_name(spec.name):
        return None  # a small count (0, 1, 2, …): a number, decoded on its integer leaves
    return Column(
        stub.name, Kind.CATEGORICAL, nullable=stub.nullable, categories=list(values),
        frequencies=share.tolist(), missing_rate=stub.missing_rate, dtype=stub.dtype,
    )  # fmt: skip
