"""Thresholds of the numeric 1-way release (:mod:`ehrsynth.dp.one_way_numeric`): which noisy grid cells keep
their mass. Post-processing of noisy counts: cells above a Bonferroni bar, aligned groups of empty cells that
pass together (tails at a coarser resolution), and neighbours of passing cells at a lower bar (not next to a
point mass)."""

from __future__ import annotations

import math

import numpy as np

SIGNIFICANT_Z = 3.0  # a missing rate, an 'other' mass or a column's noisy total is kept above z·σ
GROW_Z = 3.0  # neighbours of passing cells are kept above this (see grow)
DOMINANT_SHARE = 0.7  # a cell (or child) holding this share of the mass is a point mass


def threshold_groups(
    noisy: np.ndarray,
    sigma: float,
    z: float,
    blocked: int = -1,
    z_total: float = SIGNIFICANT_Z,
    narrow: np.ndarray | None = None,
) -> np.ndarray | None:
    """Zero cells below z·σ; then, among the cells still zero, sum aligned groups of 2, 4, 8, 16 (signal adds
    g-fold, noise √g-fold) and spread a passing group's sum over its cells, so spread-out tails keep their mass
    at a coarser resolution. None: significant mass (the noisy total above ``z_total`` sd:
    :func:`~ehrsynth.dp.one_way_numeric.family_z` of the numeric columns, so a table of many rare 0/1 codes is
    not refused by chance) that nothing localises (the caller refuses the column). ``narrow``: cells at most 1
    wide (see :func:`grow`)."""
    kept = np.where(noisy > z * sigma, noisy, 0.0)
    taken = kept > 0
    for g in (2, 4, 8, 16):
        starts = np.arange(0, len(noisy), g)
        sums = np.add.reduceat(np.where(taken, 0.0, noisy), starts)
        free = ~np.logical_or.reduceat(taken, starts)
        for a in starts[free & (sums > z * sigma * math.sqrt(g))]:
            width = len(kept[a : a + g])
            kept[a : a + g] = sums[a // g] / width
            taken[a : a + g] = True
    if kept.sum() > 0:
        return grow(kept, noisy, sigma, blocked=blocked, bar=z, narrow=narrow)
    if noisy.sum() <= z_total * sigma * math.sqrt(len(noisy)):
        return kept  # nothing nonzero worth releasing: all mass is the remainder (zeros)
    return None


def grow(
    kept: np.ndarray,
    noisy: np.ndarray,
    sigma: float,
    z: float = GROW_Z,
    blocked: int = -1,
    bar: float | None = None,
    narrow: np.ndarray | None = None,
) -> np.ndarray:
    """Extend the passing cells outwards: the next 1, 2 or 4 cells beyond each edge of a passing run are kept
    when their noisy sum exceeds z·σ·√g (a lower bar than the Bonferroni one: only neighbours of real mass are
    tested, a handful per column), so tails next to the bulk keep their mass. ``blocked``: a cell never grown
    into (the unmeasured zero cell of a sparse column). Post-processing.

    Next to a point mass — a ``narrow`` cell (at most 1 wide: one integer, e.g. the 1 of a 0/1 code) holding
    at least :data:`DOMINANT_SHARE` of the kept mass — neighbours must clear the release's Bonferroni ``bar``
    instead, so no value is invented next to it (as ``numeric_zoom._merge_children`` does next to a
    dominant child): with the lower bar a table of twelve 0/1 codes at ε = 3 got a code column with values 2,
    3, … in about one fit in seven (tests/unit/test_one_way.py)."""
    kept = kept.copy()
    taken = kept > 0
    point = np.zeros(len(noisy), dtype=bool)
    if narrow is not None and bar is not None and kept.sum() > 0:
        point = narrow & (kept >= DOMINANT_SHARE * kept.sum())
    wall = np.zeros(len(noisy), dtype=bool)
    if blocked >= 0:
        wall[blocked] = True
    n = len(noisy)
    for _ in range(n):
        grown = False
        for i in np.flatnonzero(taken):
            for step in (-1, 1):
                j = i + step
                if not 0 <= j < n or taken[j] or wall[j]:
                    continue
                for g in (1, 2, 4):
                    block = np.arange(j, j + step * g, step)
                    if block.min() < 0 or block.max() >= n or (taken | wall)[block].any():
                        break
                    total = float(noisy[block].sum())
                    need = bar if point[i] and bar is not None else z
                    if total > need * sigma * math.sqrt(g):
                        kept[block], taken[block], grown = total / g, True, True
                        break
        if not grown:
            break
    return kept
