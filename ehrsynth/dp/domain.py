"""DP mechanisms for a domain: thresholded category sets (e.g. image labels) and the thresholds they rest on.

Each function takes a ``np.random.Generator`` and returns its result with the :class:`Gaussian` mechanism to
charge to the budget (``noise_multiplier`` = σ / L2 sensitivity, ``count`` = 1). The unit of privacy is one
row (add/remove-one-row neighbours): if a patient has several rows, aggregate them to one row first.

**Thresholded releases** (:func:`noisy_category_sets`; the 1-way release of :mod:`ehrsynth.dp.one_way` uses the same threshold). Listing the distinct
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

Numeric distributions are released by :mod:`ehrsynth.dp.one_way` on the signed-log grid of :func:`_magnitudes`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ehrsynth.dp.accounting import Gaussian, _count, _positive
from ehrsynth.errors import InvalidParameterError

logger = logging.getLogger(__name__)

DEFAULT_RELEASE_DELTA = 1e-10
MAX_RELEASE_DELTA = (
    1e-6  # an explicit threshold that exposes single-row values more often than this is refused
)
GRID_MIN_MAGNITUDE = 1e-3
GRID_MAX_MAGNITUDE = 1e9  # the fine grid: GRID_BINS_PER_DECADE cells per decade up to here
GRID_BINS_PER_DECADE = 10
# beyond the fine grid, one cell per decade up to here (NDC drug codes reach 1e11, epoch nanoseconds 1.7e18):
# numbers this large are rare, and few extra cells keep the Bonferroni bar of every cell where it was
GRID_OUTER_MAGNITUDE = 1e18


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


# -- grids -----------------------------------------------------------------------------------------------------
def _magnitudes() -> np.ndarray:
    """0, then the cell edges of the positive half of the signed-log grid: GRID_BINS_PER_DECADE per decade
    from GRID_MIN_MAGNITUDE to GRID_MAX_MAGNITUDE, then one per decade to GRID_OUTER_MAGNITUDE."""
    decades = round(math.log10(GRID_MAX_MAGNITUDE / GRID_MIN_MAGNITUDE))
    exps = np.linspace(
        math.log10(GRID_MIN_MAGNITUDE), math.log10(GRID_MAX_MAGNITUDE), decades * GRID_BINS_PER_DECADE + 1
    )
    outer = np.arange(math.log10(GRID_MAX_MAGNITUDE) + 1, math.log10(GRID_OUTER_MAGNITUDE) + 0.5)
    return np.concatenate([[0.0], 10.0**exps, 10.0**outer])
