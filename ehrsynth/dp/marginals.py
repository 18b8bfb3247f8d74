"""Marginal calibration: per-unit logit shifts that make the generator's 1-way marginals equal the released ones.

The targets come from the one DP release of every column's 1-way marginal (:mod:`ehrsynth.dp.one_way`; exact
frequencies without DP): category frequencies, numeric quantile-bin masses, shares of 1s and missing rates. A
GAN trained with DP-SGD on a short schedule gets these wrong (8,000 diabetes patients × 200 codes at ε = 1:
per-code prevalence r 0.36 from the GAN alone), while they are the cheapest statistics to release. After
training, each sigmoid unit gets a shift b with mean sigmoid(logit + b) = target (Newton) and each softmax block
a shift vector with mean softmax(logits + b) = target (iterative scaling). Post-processing of the release and of
the trained generator: free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LOGIT_CLIP = 1e-6


def logit_shifts(probs: np.ndarray, target: np.ndarray, *, iterations: int = 50) -> np.ndarray:
    """Per-column b such that mean_i sigmoid(logit(probs[i, j]) + b_j) = target_j (Newton, vectorised)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    logits = np.log(p) - np.log1p(-p)
    t = np.asarray(target, dtype=np.float64)
    b = np.zeros(p.shape[1])
    for _ in range(iterations):
        q = 1.0 / (1.0 + np.exp(-(logits + b)))
        grad = (q * (1.0 - q)).mean(axis=0)
        step = np.clip((q.mean(axis=0) - t) / np.maximum(grad, 1e-12), -4.0, 4.0)
        b -= step
        if np.abs(step).max() < 1e-6:
            break
    return b


def apply_shifts(probs: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """sigmoid(logit(probs) + shifts), column-wise."""
    p = np.clip(np.asarray(probs, dtype=np.float64), LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    return 1.0 / (1.0 + np.exp(-(np.log(p) - np.log1p(-p) + shifts)))


def softmax_shifts(logits: np.ndarray, target: np.ndarray, *, iterations: int = 200) -> np.ndarray:
    """Per-cell b such that mean_i softmax(logits[i] + b) = target (a distribution): iterative scaling of the
    intercepts, b += log(target / current mean), which converges like IPF. Cells with target 0 get -30."""
    x = np.asarray(logits, dtype=np.float64)
    t = np.clip(np.asarray(target, dtype=np.float64), 1e-9, None)
    t = t / t.sum()
    b = np.zeros(x.shape[1])
    for _ in range(iterations):
        z = x + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        step = np.log(t) - np.log(np.maximum(p.mean(axis=0), 1e-300))
        b = np.clip(b + step, -30.0, 30.0)
        if np.abs(step).max() < 1e-5:
            break
    return b - b.max()


def layout_shifts(logits: np.ndarray, layout: list[Any], target: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Full-width logit shifts matching the generator's expected 1-way marginals to ``target`` where ``known``:
    Newton per sigmoid unit (0/1 values and missing flags), iterative scaling per softmax block (categories,
    numeric bins). Zero elsewhere (position units, units without a released marginal)."""
    from ehrsynth.transforms.layout import SpanKind

    shift = np.zeros(logits.shape[1])
    units = [s.start for s in layout if s.kind in (SpanKind.BINARY, SpanKind.MISSING) and known[s.start]]
    if units:
        idx = np.asarray(units, dtype=np.int64)
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits[:, idx].astype(np.float64), -50, 50)))
        floor = 0.5 / len(logits)
        shift[idx] = logit_shifts(probs, np.clip(target[idx], floor, 1.0 - floor))
    for s in layout:
        if s.kind is SpanKind.SOFTMAX and known[s.start]:
            shift[s.start : s.stop] = softmax_shifts(logits[:, s.start : s.stop], target[s.start : s.stop])
    return shift
