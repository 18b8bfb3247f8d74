"""Fréchet distance between feature sets, and the nearest-neighbour memorisation check."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binomtest

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Ca) + tr(Cb) − 2 tr((Ca^½ Cb Ca^½)^½) between two (n, d) feature sets (Gaussian fits;
    symmetric eigen-decompositions instead of a general matrix square root, so the result is real and ≥ 0)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca = np.atleast_2d(np.cov(a, rowvar=False))
    cb = np.atleast_2d(np.cov(b, rowvar=False))
    s = _sqrt_psd(ca)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((s @ cb @ s + (s @ cb @ s).T) / 2), 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * cross)
    return max(value, 0.0)


def nearest_distances(queries: np.ndarray, refs: np.ndarray, block: int = 1024) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row (blocked: |q|² + |r|² − 2 q·r)."""
    q = queries.astype(np.float32)
    r = refs.astype(np.float32)
    r_sq = (r * r).sum(axis=1)
    out = np.empty(q.shape[0], dtype=np.float64)
    for start in range(0, q.shape[0], block):
        qb = q[start : start + block]
        d2 = (qb * qb).sum(axis=1)[:, None] + r_sq[None, :] - 2.0 * (qb @ r.T)
        out[start : start + block] = np.sqrt(np.clip(d2.min(axis=1), 0, None))
    return out


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> list[float]:
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return [float(ci.low), float(ci.high)]


def memorisation(
    synthetic: np.ndarray, train: np.ndarray, test: np.ndarray, rng: np.random.Generator
) -> dict[str, Any]:
    """Nearest-neighbour memorisation check on flattened images scaled to [0, 1] (rows = images).

    - ``closer_to_train_share``: the share of synthetic images whose nearest image in a random subset of the
      training split *of the test split's size* is nearer than their nearest test image. The two reference sets
      are equally large and from one distribution, so a generator that does not favour its training images
      gives ≈ 0.5; well above 0.5 means synthetic images sit nearer the training images (Clopper–Pearson 95%).
    - ``ratio_quantiles``: quantiles of (distance to nearest of that train subset) / (distance to nearest test).
    - ``copy_threshold``: the smallest distance from any test image to its nearest training image (all of the
      training split); ``near_copies`` counts synthetic images closer than that to a training image, i.e.
      closer than any real held-out image ever is. ``below_test_p05`` is the share closer than the 5th
      percentile of those test-to-train distances.
    """
    n_sub = min(test.shape[0], train.shape[0])
    subset = train[rng.choice(train.shape[0], size=n_sub, replace=False)]
    d_sub = nearest_distances(synthetic, subset)
    d_test = nearest_distances(synthetic, test)
    d_train = nearest_distances(synthetic, train)
    test_to_train = nearest_distances(test, train)
    closer = int((d_sub < d_test).sum())
    ratio = d_sub / np.maximum(d_test, 1e-12)
    threshold = float(test_to_train.min())
    p05 = float(np.quantile(test_to_train, 0.05))
    n = synthetic.shape[0]
    return {
        "distance": "euclidean on pixels scaled to [0, 1]",
        "n_synthetic": int(n),
        "n_train": int(train.shape[0]),
        "n_test": int(test.shape[0]),
        "closer_to_train_share": closer / n,
        "closer_to_train_share_ci95": _clopper_pearson(closer, n),
        "ratio_quantiles": {f"q{int(q * 100):02d}": float(np.quantile(ratio, q)) for q in QUANTILES},
        "copy_threshold": threshold,
        "near_copies": int((d_train < threshold).sum()),
        "near_copy_fraction": float((d_train < threshold).mean()),
        "test_p05_threshold": p05,
        "below_test_p05": float((d_train < p05).mean()),
        "nearest_train_distance_median": float(np.median(d_train)),
        "test_to_train_distance_median": float(np.median(test_to_train)),
    }
