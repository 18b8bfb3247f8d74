"""Rows with the released number of codes per row (sampling; post-processing of a DP release: free).

The generator draws each code of a row independently given its latent vector, so the number of codes per row
(the BINARY and MISSING units set, "free ones") comes out far wider than a real table's: on diabetes 10k × 208
59 % of patients hold exactly 3 of the 200 codes but 23 % of plain synthetic rows do, and the spread adds a
"busy row" dependence that every code shares. The measure engine already releases a histogram of free ones
per row (:func:`~ehrsynth.training.measure_engine.release_bounds`, the row cap's release; exact without DP).
:func:`match_row_sizes` draws rows from the generator in rounds and keeps, for each size k, as many as the
histogram asks for (n·h_k, largest remainders): the model's rows given their size, with the released size
distribution. Measured in ``benchmarks/RESULTS.md`` (fidelity-workload, *codes/patient TVD*).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from ehrsynth.errors import InvalidParameterError
from ehrsynth.transforms.layout import SpanKind, unit_indexes
from ehrsynth.transforms.table import TableTransformer

logger = logging.getLogger(__name__)

#: candidates drawn at most, in multiples of n, before the rows still missing at their size are plain draws
MAX_ROUNDS = 8
#: released bins below this many noise sd are taken as empty (see :func:`denoise_sizes`)
NOISE_THRESHOLD = 2.0


def denoise_sizes(hist: np.ndarray, sd: float) -> np.ndarray:
    """A released histogram with the noise of its empty bins removed (post-processing): bins below
    :data:`NOISE_THRESHOLD`·``sd`` are zeroed, and so is every bin past the first such bin above the mode
    (row sizes fall off past the mode; on diabetes 8,000 × 208 at ε = 1, noise sd 15 rows per bin, the ~55
    empty bins alone would ask for ~4 % of rows with 12 to 64 codes). The mode is always kept. ``sd`` 0
    (exact): unchanged."""
    h = np.asarray(hist, dtype=np.float64).copy()
    if sd <= 0 or h.size == 0:
        return h
    mode = int(np.argmax(h))
    low = h < NOISE_THRESHOLD * sd
    low[mode] = False
    past = np.flatnonzero(low[mode:])
    if past.size:
        h[mode + past[0] :] = 0.0
    h[low] = 0.0
    return h


def exact_sizes(ones_per_row: np.ndarray, max_size: int) -> list[float]:
    """Frequencies of 0, 1, … ones per row, sizes above ``max_size`` in its bin; the list ends one bin past
    the largest size seen (an empty last bin: no larger row is wanted)."""
    k = np.minimum(np.asarray(ones_per_row, dtype=np.int64), max_size)
    top = int(k.max(initial=0))
    counts = np.bincount(k, minlength=min(top + 2, max_size + 1)).astype(np.float64)
    return (counts / max(len(k), 1)).tolist()


def size_target(hist: np.ndarray | list[float]) -> np.ndarray:
    """A stored histogram (frequencies of 0, 1, … free ones per row, the last bin the rest; released values
    may be negative) as a distribution: negatives set to 0, normalised."""
    h = np.asarray(hist, dtype=np.float64)
    if h.ndim != 1 or h.size < 2 or not np.all(np.isfinite(h)):
        raise InvalidParameterError(
            f"a row-size histogram needs at least 2 finite bins (0, 1, … ones per row), found shape {h.shape}"
        )
    h = np.clip(h, 0.0, None)
    total = h.sum()
    if total <= 0:
        raise InvalidParameterError("a row-size histogram needs some positive mass, found none")
    return h / total


def size_quotas(target: np.ndarray, n: int) -> np.ndarray:
    """Rows wanted per size: ⌊n·h_k⌋ plus one for the largest remainders, summing to ``n``."""
    raw = n * np.asarray(target, dtype=np.float64)
    quota = np.floor(raw).astype(np.int64)
    short = n - int(quota.sum())
    if short > 0:
        quota[np.argsort(-(raw - quota), kind="stable")[:short]] += 1
    return quota


def match_row_sizes(
    draw: Callable[[int], tuple[np.ndarray, np.ndarray]],
    n: int,
    target: np.ndarray,
    rng: np.random.Generator,
    *,
    max_rounds: int = MAX_ROUNDS,
    chunk: int = 50_000,
) -> np.ndarray:
    """``n`` rows whose sizes follow ``target`` (:func:`size_target`), in random order.

    ``draw(m)`` returns m candidate rows and their sizes (free ones per row); sizes above the last bin count
    in the last bin. Candidates are drawn ``chunk`` at a time (memory stays near that of n rows), at most
    ``max_rounds``·n of them, until every size has its quota; the rows still missing then (sizes the
    generator makes too rarely) are plain draws of any size (logged).
    """
    quota = size_quotas(target, n)
    last = quota.size - 1
    kept: list[np.ndarray] = []
    need = quota.copy()
    drawn, step = 0, max(1, min(n, chunk))
    while need.any() and drawn < max(max_rounds, 1) * n:
        rows, sizes = draw(step)
        drawn += step
        k = np.minimum(np.asarray(sizes, dtype=np.int64), last)
        for size in np.flatnonzero(need > 0):
            idx = np.flatnonzero(k == size)[: need[size]]
            if idx.size:
                kept.append(rows[idx])
                need[size] -= idx.size
    missing = int(need.sum())
    if missing:
        logger.info(
            "row sizes: %d of %d rows (%.1f %%) could not be drawn at their size from %d candidates; they are "
            "plain draws",
            missing,
            n,
            100.0 * missing / n,
            drawn,
        )
        kept.append(draw(missing)[0])
    out = np.concatenate(kept, axis=0)
    return out[rng.permutation(len(out))]


def draw_free_units(
    transformer: TableTransformer, matrix: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``matrix`` (probabilities) with its BINARY/MISSING units drawn as 0/1 in place (decoding keeps them), and
    each row's count of ones among them: the row size the released histogram counts."""
    idx = unit_indexes(transformer.layout, SpanKind.BINARY, SpanKind.MISSING)
    if idx.size == 0:
        return matrix, np.zeros(len(matrix), dtype=np.int64)
    ones = transformer.bernoulli(matrix, idx, rng)
    matrix[:, idx] = ones
    return matrix, ones.sum(axis=1).astype(np.int64)
