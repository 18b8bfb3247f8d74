"""Blocked nearest-neighbour search with bounded memory.

Rows are encoded so that the squared Euclidean distance is the audit distance (Hamming on 0/1 codes, Gower-style
on mixed data; see :mod:`ehrsynth.privacy.encoding`). Then ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b`` and all
distances from a block of query rows to every reference row come from one matrix product. Frequent features
are multiplied densely (float32 BLAS, multi-threaded); rare features as a sparse product whose few non-zeros are
added in. ``|b|^2`` rides along as an extra column of the dense product, so each block needs one product, one
scatter and one row-wise minimum. A block holds at most ``block_bytes`` of distances, whatever the table sizes.
The reference side is never subsampled.

On a machine with CUDA and torch installed, :func:`nearest_distance` can run the same computation on the GPU
(``device="cuda"``, or ``"auto"``). torch is imported only then.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ehrsynth.errors import InvalidParameterError

logger = logging.getLogger(__name__)

try:  # SciPy's C routine behind toarray(); it adds into the output. Private, so optional.
    from scipy.sparse._sparsetools import csr_todense as _csr_todense
except ImportError:  # pragma: no cover - depends on the SciPy version
    _csr_todense = None

DEFAULT_BLOCK_BYTES = 64 * 2**20
MAX_WORKERS = 8
_EPS = 1e-4


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def sparse_row_keys(m: sp.csr_matrix) -> np.ndarray:
    """A 64-bit key per row: equal rows (same non-zero positions and float32 values) get equal keys."""
    m = m.tocsr()
    m.sum_duplicates()
    cols = m.indices.astype(np.uint64)
    bits = np.ascontiguousarray(m.data, dtype=np.float32).view(np.uint32).astype(np.uint64)
    h = _mix64(_mix64(cols + np.uint64(0x9E3779B97F4A7C15)) ^ bits)
    csum = np.concatenate([np.zeros(1, dtype=np.uint64), np.cumsum(h, dtype=np.uint64)])
    return csum[m.indptr[1:]] - csum[m.indptr[:-1]]


@dataclass
class EncodedMatrix:
    """Rows split into dense and sparse feature parts, with their squared norms and row keys."""

    dense: np.ndarray
    sparse: sp.csr_matrix | None
    sqnorm: np.ndarray
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    @classmethod
    def from_sparse(cls, full: sp.csr_matrix, dense_idx: np.ndarray, sparse_idx: np.ndarray) -> EncodedMatrix:
        keys = sparse_row_keys(full)
        sq = np.asarray(full.multiply(full).sum(axis=1), dtype=np.float64).ravel().astype(np.float32)
        full = full.tocsc()
        dense = np.ascontiguousarray(full[:, dense_idx].toarray(), dtype=np.float32)
        sparse = full[:, sparse_idx].tocsr().astype(np.float32) if len(sparse_idx) else None
        return cls(dense=dense, sparse=sparse, sqnorm=sq, keys=keys)

    def __len__(self) -> int:
        return int(self.dense.shape[0])

    def take(self, rows: np.ndarray) -> EncodedMatrix:
        rows = np.asarray(rows)
        return EncodedMatrix(
            dense=np.ascontiguousarray(self.dense[rows]),
            sparse=self.sparse[rows] if self.sparse is not None else None,
            sqnorm=self.sqnorm[rows],
            keys=self.keys[rows] if len(self.keys) else self.keys,
        )

    @property
    def n_features(self) -> int:
        return int(self.dense.shape[1] + (self.sparse.shape[1] if self.sparse is not None else 0))


class _Reference:
    """A reference set prepared for repeated block products; each worker thread reuses its own output buffer
    (fresh 64 MiB arrays per block would cost page faults)."""

    def __init__(self, ref: EncodedMatrix) -> None:
        self.n = len(ref)
        aug = np.hstack([ref.dense, ref.sqnorm[:, None]]).astype(np.float32)
        self.dense_aug_t = np.ascontiguousarray(aug.T)
        self.sparse_t = ref.sparse.T.tocsr() if ref.sparse is not None and ref.sparse.nnz else None
        self._local = threading.local()

    def buffer(self, rows: int) -> np.ndarray:
        buf = getattr(self._local, "buf", None)
        if buf is None or buf.shape[0] < rows:
            buf = np.empty((rows, self.n), dtype=np.float32)
            self._local.buf = buf
        return buf[:rows]


def _add_sparse_into(dense: np.ndarray, prod: sp.csr_matrix) -> None:
    """``dense += prod`` for a CSR matrix without duplicate entries (SciPy's C loop when available)."""
    if _csr_todense is not None:
        _csr_todense(prod.shape[0], prod.shape[1], prod.indptr, prod.indices, prod.data, dense)
        return
    rows = np.repeat(np.arange(prod.shape[0], dtype=np.int64), np.diff(prod.indptr))
    dense.reshape(-1)[rows * dense.shape[1] + prod.indices] += prod.data


def _block_rows(n_ref: int, block_bytes: int, n_query: int) -> int:
    return int(max(1, min(n_query, block_bytes // (4 * max(1, n_ref)))))


def _query_parts(query: EncodedMatrix, start: int, stop: int) -> tuple[np.ndarray, sp.csr_matrix | None]:
    q = query.dense[start:stop]
    aug = np.empty((q.shape[0], q.shape[1] + 1), dtype=np.float32)
    np.multiply(q, -2.0, out=aug[:, :-1])
    aug[:, -1] = 1.0
    qs = None
    if query.sparse is not None:
        qs = query.sparse[start:stop]
        qs = qs * np.float32(-2.0) if qs.nnz else None
    return aug, qs


def _block_partial(ref: _Reference, q_aug: np.ndarray, q_sparse: sp.csr_matrix | None) -> np.ndarray:
    """``|b|^2 - 2 a.b`` for a block of queries against every reference row (shape block x n_ref)."""
    g = ref.buffer(q_aug.shape[0])
    np.matmul(q_aug, ref.dense_aug_t, out=g)
    if q_sparse is not None and ref.sparse_t is not None:
        prod = (q_sparse @ ref.sparse_t).tocsr()
        if prod.nnz:  # a sparse product has no duplicate entries
            _add_sparse_into(g, prod.astype(np.float32, copy=False))
    return g


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` only when torch is installed and a CUDA device is present, else ``"cpu"``.

    In ``auto`` mode torch is imported only if it is already loaded or an NVIDIA driver is visible, so that a
    CPU-only audit never pays for importing torch.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise InvalidParameterError(f"device must be auto, cpu or cuda, found {device!r}")
    if device == "cpu":
        return "cpu"
    maybe_gpu = "torch" in sys.modules or os.path.exists("/proc/driver/nvidia/version")
    if device == "auto" and not maybe_gpu:
        return "cpu"
    if importlib.util.find_spec("torch") is None:
        if device == "cuda":
            raise InvalidParameterError(
                "device='cuda' needs torch with CUDA; install torch or use device='cpu'"
            )
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise InvalidParameterError("device='cuda' was asked for but torch finds no CUDA device")
    return "cpu"


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def _run_blocks(n_query: int, step: int, work: Callable[[int, int], None]) -> None:
    """Run ``work(start, stop)`` over query blocks on a few threads, each with single-threaded BLAS.

    NumPy's BLAS, SciPy's sparse products and the reductions release the GIL, so blocks run in parallel;
    one BLAS thread per worker avoids oversubscribing the cores.
    """
    starts = list(range(0, n_query, step))
    workers = min(_workers(), len(starts))

    def job(start: int) -> None:
        work(start, min(n_query, start + step))

    if workers <= 1:
        for start in starts:
            job(start)
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(job, starts):
            pass


def nearest_distance(
    query: EncodedMatrix,
    reference: EncodedMatrix,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    device: str = "cpu",
) -> np.ndarray:
    """Distance from every query row to its closest reference row (float32, >= 0).

    Memory: about ``block_bytes`` per worker thread, plus the inputs.
    """
    if len(reference) == 0:
        raise InvalidParameterError("the reference set of a nearest-neighbour search is empty")
    if device in ("cuda", "torch-cpu"):
        return _nearest_torch(query, reference, block_bytes, "cuda" if device == "cuda" else "cpu")
    ref = _Reference(reference)
    out = np.empty(len(query), dtype=np.float32)

    def work(start: int, stop: int) -> None:
        g = _block_partial(ref, *_query_parts(query, start, stop))
        out[start:stop] = g.min(axis=1)

    _run_blocks(len(query), _block_rows(ref.n, block_bytes // _workers(), len(query)), work)
    out += query.sqnorm
    np.maximum(out, 0.0, out=out)
    return out


def _nearest_torch(
    query: EncodedMatrix, reference: EncodedMatrix, block_bytes: int, device: str
) -> np.ndarray:
    import torch

    dev = torch.device(device)

    def dense_rows(m: EncodedMatrix, start: int, stop: int) -> Any:
        parts = [m.dense[start:stop]]
        if m.sparse is not None:
            parts.append(m.sparse[start:stop].toarray())
        return torch.from_numpy(np.ascontiguousarray(np.hstack(parts), dtype=np.float32)).to(dev)

    width = max(1, reference.n_features)
    ref_rows = max(1, int(2 * 2**30 // (4 * width)))  # at most ~2 GiB of reference on the device at once
    best = torch.full((len(query),), float("inf"), device=dev)
    # exact float32 products: TF32 would round integer Hamming counts
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        for r0 in range(0, len(reference), ref_rows):
            r1 = min(len(reference), r0 + ref_rows)
            ref = dense_rows(reference, r0, r1)
            ref_sq = torch.from_numpy(reference.sqnorm[r0:r1]).to(dev)
            step = _block_rows(r1 - r0, block_bytes, len(query))
            for q0 in range(0, len(query), step):
                q1 = min(len(query), q0 + step)
                g = ref_sq[None, :] - 2.0 * (dense_rows(query, q0, q1) @ ref.T)
                best[q0:q1] = torch.minimum(best[q0:q1], g.min(dim=1).values)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    out = best.cpu().numpy() + query.sqnorm
    return np.maximum(out, 0.0).astype(np.float32)


def knn_votes(
    query: EncodedMatrix,
    reference: EncodedMatrix,
    weights: np.ndarray,
    votes: np.ndarray,
    *,
    k: int = 1,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> np.ndarray:
    """Sum of ``votes`` over each query's neighbourhood in ``reference``.

    Reference rows may stand for several records (``weights``: how many). The neighbourhood is every reference
    row at distance at most that of the ``k``-th nearest record, so ties are all included (with distinct QI
    patterns deduplicated, ``k = 1`` is "all synthetic records with the closest pattern"). ``votes`` is
    (n_ref, C); the result is (n_query, C).
    """
    if k < 1:
        raise InvalidParameterError(f"k must be at least 1, found {k}")
    ref = _Reference(reference)
    votes32 = np.ascontiguousarray(votes, dtype=np.float32)
    weights = np.asarray(weights, dtype=np.float64)
    out = np.empty((len(query), votes.shape[1]), dtype=np.float32)
    kk = min(k, ref.n)

    def work(start: int, stop: int) -> None:
        g = _block_partial(ref, *_query_parts(query, start, stop))  # |b|^2 - 2ab; |a|^2 is constant per row
        if kk == 1:
            cut = g.min(axis=1)
        else:
            part = np.argpartition(g, kk - 1, axis=1)[:, :kk]
            dist = np.take_along_axis(g, part, axis=1)
            order = np.argsort(dist, axis=1)
            dist = np.take_along_axis(dist, order, axis=1)
            cum = np.cumsum(weights[np.take_along_axis(part, order, axis=1)], axis=1)
            pos = np.minimum((cum < k).sum(axis=1), kk - 1)
            cut = dist[np.arange(len(dist)), pos]
        scale = np.maximum(1.0, np.abs(cut) + query.sqnorm[start:stop])
        mask = (g <= (cut + _EPS * scale)[:, None]).astype(np.float32)
        out[start:stop] = mask @ votes32

    _run_blocks(len(query), _block_rows(ref.n, block_bytes // (2 * _workers()), len(query)), work)
    return out
