"""DP mechanisms for a table's domain: category sets, code vocabulary and numeric bounds (docs/design.md §4 rule 1).

Each function takes a ``np.random.Generator`` and returns its result with the :class:`Gaussian` mechanism to
charge to the budget (``noise_multiplier`` = σ / L2 sensitivity, ``count`` = 1). The unit of privacy is one
row (add/remove-one-row neighbours): if a patient has several rows, aggregate them to one row first.

**Thresholded releases** (:func:`noisy_category_sets`, :func:`noisy_code_vocabulary`). Listing the distinct
values present in the data is itself data-dependent; it is safe only because a value is released when its
noisy count passes a threshold τ (the "stability-based" / thresholded-histogram argument: Korolova et al. 2009,
Wilson et al. 2020, Gopi et al. 2020). For neighbours D, D + x: on the values present in both, the release is
the Gaussian mechanism (σ, sensitivity Δ); values present only in D + x (count ≤ 1 there) are released with
probability at most ``m · P(1 + N(0, σ²) > τ)``, m the number of values x can add. So the release is
(ε_G(δ'), δ' + δ_τ)-DP, with δ_τ = m·Φ̄((τ - 1)/σ), and δ_τ adds to δ under composition. The returned
:class:`Gaussian` carries δ_τ as its ``delta``; :func:`ehrsynth.dp.accounting.compute_epsilon` subtracts it
from the budget's δ, so it is charged properly. The default τ = 1 + σ·Φ̄⁻¹(δ_r / m) makes δ_τ = δ_r =
:data:`DEFAULT_RELEASE_DELTA` (1e-10): a value held by ONE row is released with probability ≤ 1e-10 per
release. Missing values are never a category.

**Bounds** (:func:`dp_bounds`) come from a noisy histogram over a FIXED grid chosen without looking at the data
(no threshold δ needed: empty bins are released too, as noise).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr, ndtri

from ehrsynth.dp.accounting import Gaussian, _count, _positive
from ehrsynth.errors import InvalidDataError, InvalidParameterError

logger = logging.getLogger(__name__)

DEFAULT_RELEASE_DELTA = 1e-10
MAX_RELEASE_DELTA = (
    1e-6  # an explicit threshold that exposes single-row values more often than this is refused
)
DEFAULT_MAX_CODES_PER_ROW = 256
DEFAULT_QUANTILES = (0.01, 0.99)
GRID_MIN_MAGNITUDE = 1e-3
GRID_MAX_MAGNITUDE = 1e9
GRID_BINS_PER_DECADE = 10
EMPTY_BIN_RATE = 0.01  # per release: chance that any empty bin of any column passes the noise threshold


# -- thresholds -----------------------------------------------------------------------------------------------
def release_threshold(
    sigma: float, max_new_values: int, release_delta: float = DEFAULT_RELEASE_DELTA
) -> float:
    """τ = 1 + σ·Φ̄⁻¹(release_delta / m): a row adding m new values exposes one w.p. ≤ ``release_delta``."""
    sigma = _positive(sigma, "sigma")
    m = max(_count(max_new_values, "max_new_values"), 1)
    if not 0 < release_delta < 1:
        raise InvalidParameterError(f"release_delta must be in (0, 1), found {release_delta!r}")
    return 1.0 + sigma * float(-ndtri(release_delta / m))


def single_row_release_probability(threshold: float, sigma: float, max_new_values: int) -> float:
    """Upper bound m·Φ̄((τ - 1)/σ) on the chance that values held by one row only are released (δ_τ)."""
    m = max(_count(max_new_values, "max_new_values"), 1)
    return min(1.0, m * float(ndtr(-(threshold - 1.0) / _positive(sigma, "sigma"))))


def _threshold(
    threshold: float | None, sigma: float, m: int, release_delta: float, what: str
) -> tuple[float, float]:
    if threshold is None:
        tau = release_threshold(sigma, m, release_delta)
    else:
        tau = float(threshold)
        if not math.isfinite(tau):
            raise InvalidParameterError(
                f"{what}: threshold must be a finite number or None, found {threshold!r}"
            )
    p = single_row_release_probability(tau, sigma, m)
    if p > MAX_RELEASE_DELTA:
        raise InvalidParameterError(
            f"{what}: threshold {tau:.4g} would release a value held by a single row with probability up to "
            f"{p:.2g} (> {MAX_RELEASE_DELTA:g}); use threshold=None (default {release_threshold(sigma, m):.4g}) "
            f"or at least {release_threshold(sigma, m, MAX_RELEASE_DELTA):.4g}"
        )
    return tau, p


def _check_common(noise_multiplier: float, rng: Any) -> float:
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"rng must be a numpy Generator (np.random.default_rng(seed)), found {rng!r}"
        )
    return _positive(noise_multiplier, "noise_multiplier")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _sorted(values: Sequence[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


# -- category sets --------------------------------------------------------------------------------------------
def noisy_category_sets(
    columns: Mapping[str, pd.Series],
    *,
    noise_multiplier: float,
    threshold: float | None,
    rng: np.random.Generator,
    release_delta: float = DEFAULT_RELEASE_DELTA,
    name: str = "domain:categories",
) -> tuple[dict[str, list[Any]], Gaussian]:
    """Category sets of k columns from one joint release of thresholded Gaussian noisy counts.

    Each row adds 1 to one value per column (nothing for a missing value), so the joint L2 sensitivity is √k and
    every distinct value gets noise N(0, σ²), σ = ``noise_multiplier``·√k. A value is kept when its noisy count
    exceeds the threshold (default τ = 1 + σ·Φ̄⁻¹(release_delta / k), see the module docstring; a row can add
    at most k new values). Enumerating the values present is fine ONLY because values below τ are never
    released. Kept values are plain Python scalars sorted by value (mixed types: by type name, then str).
    Noise is drawn in sorted-value order, so the result does not depend on the row order.
    """
    nm = _check_common(noise_multiplier, rng)
    k = len(columns)
    if k == 0:
        return {}, Gaussian(name, nm, count=0)
    sigma = nm * math.sqrt(k)
    tau, p_single = _threshold(threshold, sigma, k, release_delta, name)
    out: dict[str, list[Any]] = {}
    for col, values in columns.items():
        s = values if isinstance(values, pd.Series) else pd.Series(values)
        counts = s.value_counts(dropna=True, sort=False)
        keys = _sorted([_plain(v) for v in counts.index])
        by_key = {_plain(v): int(c) for v, c in counts.items()}
        noisy = np.array([by_key[v] for v in keys], dtype=float) + rng.normal(0.0, sigma, size=len(keys))
        out[col] = [v for v, c in zip(keys, noisy, strict=True) if c > tau]
    logger.debug("category sets released with sigma=%.4g, threshold=%.4g", sigma, tau)
    return out, Gaussian(name, nm, count=1, delta=p_single)


# -- code vocabulary ------------------------------------------------------------------------------------------
def _binary_csr(matrix: Any, names: Sequence[str]) -> sp.csr_matrix:
    """The 0/1 structure of a dense or sparse rows × codes matrix (entries > 0 are present)."""
    if sp.issparse(matrix):
        coo = sp.coo_matrix(matrix)
    else:
        dense = np.asarray(matrix)
        if dense.ndim != 2:
            raise InvalidParameterError(
                f"the code matrix must be 2-D (rows × codes), found shape {dense.shape}"
            )
        coo = sp.coo_matrix(dense.astype(float, copy=False))
    data = np.asarray(coo.data, dtype=float)
    bad = np.flatnonzero(~np.isfinite(data) | (data < 0))
    if len(bad) and coo.shape[1] == len(names):
        col = names[int(coo.col[bad[0]])]
        raise InvalidDataError(
            f"code column {col!r} holds a negative, infinite or missing value; a code matrix must be 0/1 (or "
            "counts >= 0) with 0 for absent codes",
            column=col,
        )
    keep = data > 0
    m = sp.csr_matrix((np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=coo.shape)
    m.sum_duplicates()
    return m


def noisy_code_vocabulary(
    matrix: np.ndarray | sp.spmatrix,
    names: Sequence[str],
    *,
    noise_multiplier: float,
    threshold: float | None,
    rng: np.random.Generator,
    release_delta: float = DEFAULT_RELEASE_DELTA,
    max_codes_per_row: int = DEFAULT_MAX_CODES_PER_ROW,
    name: str = "domain:codes",
) -> tuple[list[str], Gaussian]:
    """The codes (columns of a 0/1 rows × codes matrix, dense or scipy sparse) released under DP.

    A row with m codes contributes 1/√m to each (its vector has L2 norm 1, so the L2 sensitivity is 1 and
    σ = ``noise_multiplier``); a row with more than ``max_codes_per_row`` codes keeps a random subset of that
    many (drawn from ``rng``), so one row can add at most that many new codes: the default threshold is
    τ = 1 + σ·Φ̄⁻¹(release_delta / max_codes_per_row). Codes no row holds are never released; kept codes come
    in the order of ``names``.
    """
    nm = _check_common(noise_multiplier, rng)
    cap = _count(max_codes_per_row, "max_codes_per_row")
    if cap < 1:
        raise InvalidParameterError(f"max_codes_per_row must be >= 1, found {max_codes_per_row!r}")
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        raise InvalidParameterError("code names must be unique")
    m = _binary_csr(matrix, names)
    if m.shape[1] != len(names):
        raise InvalidParameterError(
            f"the code matrix has {m.shape[1]} columns but {len(names)} names were given"
        )
    tau, p_single = _threshold(threshold, nm, cap, release_delta, name)
    per_row = np.diff(m.indptr)
    weights = np.repeat(1.0 / np.sqrt(np.maximum(per_row, 1)), per_row)
    heavy = np.flatnonzero(per_row > cap)
    for r in heavy:  # keep a random subset of `cap` codes, each with weight 1/sqrt(cap)
        a = m.indptr[r]
        chosen = np.zeros(per_row[r], dtype=bool)
        chosen[rng.choice(per_row[r], size=cap, replace=False)] = True
        weights[a : a + per_row[r]] = np.where(chosen, 1.0 / math.sqrt(cap), 0.0)
    if len(heavy):
        logger.debug("%d rows had more than %d codes; each kept a random subset", len(heavy), cap)
    weighted = np.bincount(m.indices, weights=weights, minlength=m.shape[1])
    present = np.flatnonzero(
        np.bincount(m.indices, weights=(weights > 0).astype(float), minlength=m.shape[1])
    )
    noisy = weighted[present] + rng.normal(0.0, nm, size=len(present))
    kept = [names[j] for j, c in zip(present, noisy, strict=True) if c > tau]
    logger.debug("code vocabulary: %d of %d codes released (threshold %.4g)", len(kept), len(names), tau)
    return kept, Gaussian(name, nm, count=1, delta=p_single)


# -- bounds ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class BinGrid:
    """A data-independent histogram grid: bin i is the interval [lower[i], upper[i]] (see :meth:`index`)."""

    lower: np.ndarray
    upper: np.ndarray
    signed_log: bool = False

    def __len__(self) -> int:
        return len(self.lower)

    def index(self, values: np.ndarray) -> np.ndarray:
        """Bin of each (finite) value; values beyond the grid go to the outermost bins."""
        v = np.asarray(values, dtype=float)
        if not self.signed_log:
            edges = np.append(self.lower, self.upper[-1])
            return np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(self) - 1)
        mags = _magnitudes()
        n_side = len(mags) - 1  # bins per sign; layout: negatives (most negative first), zero, positives
        pos = np.clip(np.searchsorted(mags, np.abs(v), side="left") - 1, 0, n_side - 1)
        return np.where(v > 0, n_side + 1 + pos, np.where(v < 0, n_side - 1 - pos, n_side))


def _magnitudes() -> np.ndarray:
    decades = round(math.log10(GRID_MAX_MAGNITUDE / GRID_MIN_MAGNITUDE))
    exps = np.linspace(
        math.log10(GRID_MIN_MAGNITUDE), math.log10(GRID_MAX_MAGNITUDE), decades * GRID_BINS_PER_DECADE + 1
    )
    return np.concatenate([[0.0], 10.0**exps])


FALLBACK_BOUNDS = (0.0, 1.0)  # public: bounds of a column whose noisy histogram passed no bin
GROUP_SIZES = (1, 2, 4)  # coarser histograms tried, by summing adjacent noisy bins (at most 4: wider bins
# would give bounds so loose that the scaled values crowd into a corner of [0, 1])


def _group_starts(grid: BinGrid, g: int) -> np.ndarray:
    """First bin of each group of ``g`` adjacent bins; on a signed-log grid the bin holding exactly 0 stays
    alone and groups never straddle it (a 0/1 column must not get a bound of -1 from a pair across 0)."""
    n = len(grid)
    if g == 1:
        return np.arange(n)
    zero = np.flatnonzero((grid.lower == 0) & (grid.upper == 0)) if grid.signed_log else np.array([], int)
    if len(zero) == 0:
        return np.arange(0, n, g)
    z0 = int(zero[0])
    below = np.arange(z0 - g, -g, -g)[::-1].clip(min=0)  # groups end at the zero bin, counted down from it
    above = np.arange(z0 + 1, n, g)
    return np.unique(np.concatenate([below, [z0], above]))


def _bounds_from_noisy(
    noisy: np.ndarray, grid: BinGrid, sigma: float, k: int, q_lo: float, q_hi: float
) -> tuple[float, float] | None:
    """Quantile bounds from one column's noisy histogram (post-processing), or None when no bin passes.

    Bins whose noisy count is below σ·Φ̄⁻¹(rate) are zeroed, with the false-bin rate Bonferroni-corrected over
    every bin of every column and every grouping tried. When no single bin passes (a spread-out column: a lab
    value over ten log bins), adjacent noisy bins are summed in groups of 2, 4, … — signal adds up g-fold, noise
    only √g-fold — and the bounds are read from the finest grouping that keeps ≥ 80 % of the largest mass any grouping keeps.
    """
    n = len(noisy)
    z = float(-ndtri(EMPTY_BIN_RATE / (n * k * len(GROUP_SIZES))))
    levels: list[tuple[float, tuple[float, float]]] = []
    for g in GROUP_SIZES:
        if g > 1 and g >= n:
            break
        starts = _group_starts(grid, g)
        sums = np.add.reduceat(noisy, starts)
        sizes = np.diff(np.append(starts, n))
        kept = np.where(sums > sigma * np.sqrt(sizes) * z, sums, 0.0)
        total = float(kept.sum())
        if total <= 0:
            continue
        cum = np.cumsum(kept)
        groups = len(starts)
        i_lo = int(np.searchsorted(cum, q_lo * total, side="right"))
        i_hi = int(np.searchsorted(cum, q_hi * total * (1 - 1e-12), side="left"))
        i_lo, i_hi = min(i_lo, groups - 1), min(max(i_hi, i_lo), groups - 1)
        last = (starts[i_hi + 1] if i_hi + 1 < groups else n) - 1
        levels.append((total, (float(grid.lower[starts[i_lo]]), float(grid.upper[last]))))
    if not levels:
        return None
    # the finest grouping that keeps most of the mass any grouping keeps: a finer one that passes only a
    # few lucky bins would give bounds far inside the data
    best = max(total for total, _ in levels)
    return next(bounds for total, bounds in levels if total >= 0.8 * best)


def default_grid() -> BinGrid:
    """Signed log-spaced bins: positives (e_i, e_(i+1)] with edges 0, 1e-3, …, 1e9 at 10 per decade (each bin
    spans a factor 10^0.1 ≈ 1.26), the mirror image for negatives, and a bin holding exactly 0. A bound read off
    it is a bin edge: up to 26% beyond the true quantile in magnitude (integers at powers of ten are edges, so
    a 0/1 column gets exactly (0, 1)); values within 1e-3 of 0 are lumped with their sign's smallest bin, and
    values beyond ±1e9 are clipped to ±1e9."""
    mags = _magnitudes()
    pos_lo, pos_hi = mags[:-1], mags[1:]
    lower = np.concatenate([-pos_hi[::-1], [0.0], pos_lo])
    upper = np.concatenate([-pos_lo[::-1], [0.0], pos_hi])
    return BinGrid(lower, upper, signed_log=True)


def grid_from_edges(edges: Sequence[float] | np.ndarray) -> BinGrid:
    """Bins [edges[i], edges[i+1]) (the last closed) from strictly increasing finite edges chosen without the
    data; values outside go to the end bins."""
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or len(e) < 2 or not np.isfinite(e).all() or not (np.diff(e) > 0).all():
        raise InvalidParameterError("grid edges must be at least two strictly increasing finite numbers")
    return BinGrid(e[:-1], e[1:])


def linear_grid(start: float, stop: float, n_bins: int) -> BinGrid:
    """``n_bins`` equal bins from ``start`` to ``stop``."""
    n = _count(n_bins, "n_bins")
    if n < 1:
        raise InvalidParameterError(f"linear_grid needs n_bins >= 1, found {n_bins!r}")
    return grid_from_edges(np.linspace(start, stop, n + 1))


def date_grid(first_year: int = 1900, last_year: int = 2100, months_per_bin: int = 3) -> BinGrid:
    """A grid for dates as days since 1970-01-01 whose edges are calendar month starts, every
    ``months_per_bin`` months (quarters by default) from 1 January ``first_year`` to 1 January ``last_year``."""
    step = _count(months_per_bin, "months_per_bin")
    if step < 1 or not first_year < last_year:
        raise InvalidParameterError("date_grid needs first_year < last_year and months_per_bin >= 1")
    months = np.arange(np.datetime64(f"{first_year:04d}-01"), np.datetime64(f"{last_year:04d}-01") + 1, step)
    days = (months.astype("datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(float)
    return grid_from_edges(days)


def dp_bounds(
    columns: Mapping[str, np.ndarray],
    *,
    noise_multiplier: float,
    rng: np.random.Generator,
    quantiles: tuple[float, float] = DEFAULT_QUANTILES,
    grids: Mapping[str, BinGrid] | None = None,
    name: str = "domain:bounds",
) -> tuple[dict[str, tuple[float, float]], Gaussian]:
    """DP (lower, upper) bounds of k numeric columns from one joint release of noisy histograms.

    Each column is histogrammed over a fixed grid (:func:`default_grid` unless ``grids`` names another, e.g.
    :func:`date_grid` for days since 1970); a row adds 1 to one bin per column (nothing when missing), so the
    joint L2 sensitivity is √k and σ = ``noise_multiplier``·√k. Post-processing: bins whose noisy count is below
    σ·Φ̄⁻¹(0.01 / (bins·k·6)) are zeroed (so the noise of hundreds of empty bins does not swamp the quantiles; an
    empty bin of any column survives with probability ≤ 1% per release, and then only matters if it holds more
    than the quantile's tail mass), and the bounds are the lower edge of the bin holding the ``quantiles[0]``
    quantile of the remaining mass and the upper edge of the bin holding the ``quantiles[1]`` quantile. When no
    bin passes, adjacent noisy bins are summed in groups of 2 and 4 and the bounds read from the finest
    grouping that keeps most of the mass (:func:`_bounds_from_noisy`). A column where no group passes carries no usable signal (its largest noisy bin is a random bin, e.g. (-1e6, -8e5)): on the default
    grid it gets the data-independent :data:`FALLBACK_BOUNDS` (0, 1), the range of a 0/1 code column, the
    usual case in wide code tables; on other grids the edges of its largest noisy bin. One warning names them.
    """
    nm = _check_common(noise_multiplier, rng)
    q_lo, q_hi = (float(x) for x in quantiles)
    if not 0 <= q_lo < q_hi <= 1:
        raise InvalidParameterError(f"quantiles must satisfy 0 <= low < high <= 1, found {quantiles!r}")
    k = len(columns)
    if k == 0:
        return {}, Gaussian(name, nm, count=0)
    sigma = nm * math.sqrt(k)
    grids = dict(grids or {})
    fallback = default_grid()
    out: dict[str, tuple[float, float]] = {}
    fallbacks: list[str] = []
    for col, raw in columns.items():
        try:
            v = np.asarray(raw, dtype=float).ravel()
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(
                f"column {col!r} is not numeric ({exc}); convert it (dates to days since 1970) before dp_bounds",
                column=col,
            ) from exc
        grid = grids.get(col, fallback)
        hist = np.bincount(grid.index(v[~np.isnan(v)]), minlength=len(grid)).astype(float)
        noisy = hist + rng.normal(0.0, sigma, size=len(grid))
        found = _bounds_from_noisy(noisy, grid, sigma, k, q_lo, q_hi)
        if found is None:
            fallbacks.append(col)
            if grid.signed_log:  # the noise decides nothing: take the public guess, not a random bin
                found = FALLBACK_BOUNDS
            else:
                j = int(np.argmax(noisy))
                found = (float(grid.lower[j]), float(grid.upper[j]))
        out[col] = found
    if fallbacks:  # one message, not one per column: code tables have hundreds of numeric columns
        shown = ", ".join(repr(c) for c in fallbacks[:5]) + (", ..." if len(fallbacks) > 5 else "")
        logger.warning(
            "%d of %d numeric columns (%s): no histogram bin passed the noise threshold (sigma %.0f grows "
            "with the square root of the number of columns); they get the fallback range. For 0/1 code "
            "columns pass code_columns=[...] (CLI: --long), or declare a schema",
            len(fallbacks),
            k,
            shown,
            sigma,
        )
    return out, Gaussian(name, nm, count=1)
