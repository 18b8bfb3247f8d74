"""How many decimals a numeric column is written with: released (a noisy histogram inside the 1-way release) or,
failing that, read from the release's finest cell.

A lab written as 6.5 must come back as 5.8, not 5.799 or 5.79912: the decimals are part of what an analyst
sees. :func:`release_decimals` is part of the 1-way release (:mod:`ehrsynth.dp.one_way`): each non-integral
value adds 1 to one level, as it did to the single 'fractional' count it replaced, so the row bound and the
accounting are unchanged.
"""

from __future__ import annotations

import math

import numpy as np

MAX_DECIMALS = 6  # finest precision level of the decimals histogram (and of the resolution fallback)


def release_decimals(
    v: np.ndarray, sigma: float, datetime: bool, rng: np.random.Generator, z: float
) -> tuple[bool, int | None]:
    """(fractional, decimals) from ONE noisy histogram of the non-integral values by the decimals they are
    written with (1 … :data:`MAX_DECIMALS`, the last level also holding finer values). Each non-integral value
    is in one level, as it was in the single 'fractional' count this replaces: the sensitivity is unchanged.
    ``decimals`` is the finest level whose noisy count is significant (a lab written as 6.5 gets 1, not the
    release's cell resolution: synthetic values then read 5.8, not 5.799); dates (fractions of a day) keep
    only the fractional test. A count is significant above ``z``·``sigma``."""
    frac = v[v != np.round(v)]
    if datetime:
        noisy_total = float(len(frac) + rng.normal(0.0, sigma))
        return noisy_total > z * sigma, None
    level = np.full(len(frac), MAX_DECIMALS)
    for d in range(MAX_DECIMALS - 1, 0, -1):
        level[np.abs(frac - np.round(frac, d)) <= 1e-9 + 1e-15 * np.abs(frac)] = d  # float error, not a digit
    counts = np.bincount(level - 1, minlength=MAX_DECIMALS).astype(np.float64)
    noisy = counts + rng.normal(0.0, sigma, size=MAX_DECIMALS)
    significant = np.flatnonzero(noisy > z * sigma)
    fractional = bool(len(significant)) or float(noisy.sum()) > z * sigma * math.sqrt(MAX_DECIMALS)
    return fractional, (int(significant.max()) + 1 if len(significant) else None)


def resolution_decimals(lo: np.ndarray, hi: np.ndarray) -> int:
    """Decimals matching the release's finest resolution (its narrowest leaf that is not a point mass): a
    decoded lab value is written as 2.1587, not 2.158722361."""
    width = hi - lo
    real = width[width > 1e-8 * np.maximum(1.0, np.abs(lo))]
    if len(real) == 0:
        return MAX_DECIMALS
    return int(np.clip(math.ceil(-math.log10(float(real.min()))), 0, MAX_DECIMALS))
