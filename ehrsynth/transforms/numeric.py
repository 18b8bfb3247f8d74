"""Numbers as quantile bins: a released piecewise-linear CDF → a softmax over bins plus a position in the bin.

A numeric column (count, continuous, datetime) carries a released distribution in its schema column:
``knots`` (strictly increasing values) and ``cdf`` (the CDF at each knot, 0 at the first and 1 at the last),
i.e. a histogram whose leaves are ``[knots[i], knots[i+1])`` with mass ``cdf[i+1] - cdf[i]``. It comes from a
DP release (:mod:`ehrsynth.dp.one_way`) or, without DP, from the exact data (:mod:`ehrsynth.transforms.marginals`).

:class:`QuantileCodec` cuts it into at most ``n_bins`` bins of (roughly) equal mass at leaf edges. A value is
encoded as its bin and its position ``(F(x) - F(lo)) / (F(hi) - F(lo))`` inside the bin, which is uniform on
[0, 1] under the released distribution; decoding inverts the CDF inside the bin, so decoded values only ever
fall on leaves with mass — inside the released range, never in gaps (a code column holding {3, 6, 7} never
gives 4 or 5) — and are rounded to the column's precision (``decimals``; integer columns use integer leaves
``[v, v + 1)`` and decode by flooring).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ehrsynth.schema import Column, Kind, check_cdf

DEFAULT_BINS = 16
EPOCH = pd.Timestamp("1970-01-01")


def numeric_values(col: Column, s: pd.Series) -> np.ndarray:
    """A numeric or datetime column as float64 (dates: days since 1970-01-01; missing: NaN)."""
    if col.kind is Kind.DATETIME:
        ts = pd.to_datetime(s, errors="coerce")
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert(None)
        return ((ts - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    return s.to_numpy(dtype="float64", na_value=np.nan)


class QuantileCodec:
    """Encode/decode one numeric column through its released CDF (see the module docstring)."""

    def __init__(
        self,
        knots: Sequence[float],
        cdf: Sequence[float],
        *,
        n_bins: int = DEFAULT_BINS,
        decimals: int | None = None,
        name: str = "column",
    ) -> None:
        self.knots, self.cdf = check_cdf(name, knots, cdf)
        self.decimals = decimals
        self.integer = decimals == 0
        self.edges = self._bin_edges(max(int(n_bins), 1))  # knot indexes of the bin boundaries
        lo_f, hi_f = self.cdf[self.edges[:-1]], self.cdf[self.edges[1:]]
        self.bin_mass = hi_f - lo_f
        self._lo_f = lo_f
        # leaves with mass, for the inverse CDF
        mass = np.diff(self.cdf)
        self._leaf = np.flatnonzero(mass > 0)
        self._leaf_hi_f = self.cdf[self._leaf + 1]

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def lower(self) -> float:
        return float(self.knots[0])

    @property
    def upper(self) -> float:
        """The largest value decoding can give (the last leaf is half-open; integers floor into it)."""
        top = float(self.knots[-1])
        return top - 1.0 if self.integer and top - 1.0 >= self.knots[0] else top

    def _bin_edges(self, n_bins: int) -> np.ndarray:
        """Knot indexes cutting the CDF into bins of about 1/n_bins mass each, every bin with mass > 0."""
        f = self.cdf
        cuts = [0]
        for t in np.arange(1, n_bins) / n_bins:
            i = int(np.argmin(np.abs(f - t)))
            if f[i] > f[cuts[-1]] + 1e-12 and f[i] < 1.0 - 1e-12:
                cuts.append(i)
        last = len(f) - 1
        if f[last] > f[cuts[-1]] or len(cuts) == 1:
            cuts.append(last)
        else:
            cuts[-1] = last
        return np.asarray(cuts, dtype=np.int64)

    def _cdf_at(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.knots, self.cdf)

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bin index and position in [0, 1] of each finite value (values outside the range are clipped)."""
        x = np.asarray(values, dtype=np.float64)
        if self.integer:
            x = np.floor(x) + 0.5  # the middle of the value's integer leaf [v, v + 1)
        else:  # a value on a point mass (a narrow leaf of its own): its middle, so decoding finds it again
            i = np.clip(np.searchsorted(self.knots, x, side="right") - 1, 0, len(self.knots) - 2)
            width = self.knots[i + 1] - self.knots[i]
            point = width <= 1e-8 * np.maximum(1.0, np.abs(self.knots[i]))
            x = np.where(point, self.knots[i] + width / 2, x)
        f = self._cdf_at(np.clip(x, self.knots[0], self.knots[-1]))
        b = np.clip(np.searchsorted(self._lo_f, f, side="right") - 1, 0, self.n_bins - 1)
        width = np.maximum(self.bin_mass[b], 1e-12)
        return b.astype(np.int64), np.clip((f - self._lo_f[b]) / width, 0.0, 1.0)

    def decode(self, bins: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Values for bin indexes and positions in [0, 1], inside leaves with mass, at the column's precision."""
        b = np.clip(np.asarray(bins, dtype=np.int64), 0, self.n_bins - 1)
        u = np.clip(np.asarray(positions, dtype=np.float64), 0.0, 1.0)
        p = self._lo_f[b] + u * self.bin_mass[b]
        x = self._inverse(p)
        if self.integer:
            x = np.floor(x)
        elif self.decimals is not None:
            return self._at_precision(x, self.decimals)
        return np.clip(x, self.lower, self.upper)

    def _at_precision(self, x: np.ndarray, decimals: int) -> np.ndarray:
        """Round to ``decimals`` and keep inside the bounds rounded inwards to that precision (a bound such as
        4.5126 would otherwise come back unrounded wherever the clip binds)."""
        scale = 10.0**decimals
        lo, hi = np.ceil(self.lower * scale - 1e-6) / scale, np.floor(self.upper * scale + 1e-6) / scale
        if lo > hi:  # a range narrower than the precision: the nearest values at the precision
            return np.round(np.clip(x, self.lower, self.upper), decimals)
        return np.round(np.clip(np.round(x, decimals), lo, hi), decimals)

    def _inverse(self, p: np.ndarray) -> np.ndarray:
        """Inverse CDF over the leaves with mass (zero-mass leaves are never decoded into)."""
        leaves = self._leaf
        if len(leaves) == 0:
            return np.full(p.shape, self.knots[0])
        j = np.clip(np.searchsorted(self._leaf_hi_f, p, side="left"), 0, len(leaves) - 1)
        i = leaves[j]
        f_lo, f_hi = self.cdf[i], self.cdf[i + 1]
        t = np.clip((p - f_lo) / np.maximum(f_hi - f_lo, 1e-15), 0.0, 1.0)
        width = self.knots[i + 1] - self.knots[i]
        point = width <= 1e-8 * np.maximum(1.0, np.abs(self.knots[i]))  # a point mass (e.g. exact zeros)
        x = np.where(point, self.knots[i], self.knots[i] + t * width)
        if self.integer:  # stay inside the leaf [v, v + 1): floor must not reach the next integer
            x = np.minimum(x, self.knots[i + 1] - 1e-9)
        return x


def uniform_cdf(
    lower: float, upper: float, *, integer: bool, n_bins: int = DEFAULT_BINS
) -> tuple[list[float], list[float]]:
    """A flat CDF over a declared range (knots so that it can be cut into ``n_bins`` bins): the public
    fallback when no distribution was released."""
    lo = float(lower)
    hi = float(upper) + (1.0 if integer else 0.0)
    if hi <= lo:
        hi = lo + 1.0
    knots = np.linspace(lo, hi, n_bins + 1)
    if integer:
        knots = np.unique(np.round(knots))
    cdf = (knots - knots[0]) / (knots[-1] - knots[0])
    return knots.tolist(), cdf.tolist()


def exact_cdf(values: np.ndarray, *, integer: bool, max_knots: int = 512) -> tuple[list[float], list[float]]:
    """The exact distribution of finite ``values`` as knots/cdf (NOT private: for fits without DP).

    Integers: a leaf ``[v, v + 1)`` per distinct value when there are at most ``max_knots`` of them; otherwise
    (and for decimals) knots at ``max_knots`` quantiles, with a narrow leaf of its own for every value that
    holds a visible point mass (so a lab value of exactly 0 stays 0).
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n == 0:
        return [0.0, 1.0], [0.0, 1.0]
    uniq, counts = np.unique(x, return_counts=True)
    if integer and len(uniq) <= max_knots:
        knots = np.union1d(uniq, uniq + 1.0)
    else:
        knots = np.quantile(x, np.linspace(0.0, 1.0, max_knots + 1))
        heavy = uniq[counts > n / (2 * max_knots)]
        pad = 1.0 if integer else 1e-9 * np.maximum(1.0, np.abs(heavy))
        knots = np.union1d(knots, np.concatenate([heavy, heavy + pad]))
        if integer:
            knots = np.unique(np.floor(knots))
        knots = np.union1d(knots, [x[-1] + (1.0 if integer else 1e-9 * max(1.0, abs(x[-1])))])
    cdf = np.searchsorted(x, knots, side="left") / n
    cdf[-1] = 1.0
    return knots.tolist(), cdf.tolist()
