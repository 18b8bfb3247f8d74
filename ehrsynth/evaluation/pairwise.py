"""Dependence between columns: correlation-matrix error and binary co-occurrence error.

The compared columns are the top-K most prevalent binary codes (the same codes as dimension-wise prediction),
every count/continuous/datetime column (standardised) and the 20 most frequent training categories of every
categorical column (one indicator each). Restricting the codes to the top K matters: the correlations among
rare codes are mostly sampling noise, so an average over all code pairs cannot tell a table whose dependence
was destroyed from a perfect one. Measured on the diabetes patient × code table (20,000 train patients, the
first-encounter demographics and 745 codes; ``benchmarks/evaluate_speed.py``'s split): over all 745 codes a
column-shuffled copy of train scores a correlation MAE of 0.0028 and 20,000 other real patients 0.0025; over
the top 100 codes, 0.0162 vs 0.0074 (and a correlation r of -0.006 vs 0.929).

Pearson correlations are computed on the encoded matrix; a column that is constant in a table has correlation
0 with every other column in that table. Only pairs of encoded columns that come from *different* source
columns count (two categories of one column are related by construction).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ehrsynth.evaluation.encoding import Encoder
from ehrsynth.evaluation.marginals import pearson

MAX_LEVELS_PER_CATEGORICAL = 20
MIN_JOINT_COUNT = 10
HEATMAP_CODES = 15
HEATMAP_SIZE = 25


def select_columns(encoder: Encoder, top_codes: list[str]) -> list[int]:
    """Encoded column indices compared pairwise (see the module docstring)."""
    plan = encoder.plan
    cols = [int(encoder.columns_of(code)[0]) for code in top_codes]
    cols += [int(encoder.columns_of(name)[0]) for name in plan.numeric]
    for name in plan.categorical:
        cols += [int(j) for j in encoder.columns_of(name)[:MAX_LEVELS_PER_CATEGORICAL]]
    return cols


def correlation_matrix(x: sp.spmatrix | np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns of ``x`` (constant columns: 0 off the diagonal)."""
    dense = np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)  # type: ignore[union-attr]
    n = dense.shape[0]
    mean = dense.mean(axis=0)
    cov = (dense.T @ dense) / n - np.outer(mean, mean)
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    ok = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    denom = np.outer(np.where(ok, std, 1.0), np.where(ok, std, 1.0))
    corr = np.where(np.outer(ok, ok), cov / denom, 0.0)
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def _cooccurrence(real: sp.csc_matrix, synth: sp.csc_matrix, n_codes: int) -> dict[str, Any] | None:
    if n_codes < 2:
        return None
    a = real[:, :n_codes]
    b = synth[:, :n_codes]
    joint_real = np.asarray((a.T @ a).todense()) / a.shape[0]
    joint_synth = np.asarray((b.T @ b).todense()) / b.shape[0]
    iu = np.triu_indices(n_codes, 1)
    jr, js = joint_real[iu], joint_synth[iu]
    diff = np.abs(jr - js)
    frequent = jr * a.shape[0] >= MIN_JOINT_COUNT
    return {
        "n_codes": n_codes,
        "mae": float(diff.mean()),
        "relative_error": float(np.mean(diff[frequent] / jr[frequent])) if frequent.any() else None,
        "n_frequent_pairs": int(frequent.sum()),
        "pearson_r": pearson(jr, js),
    }


def pairwise_metrics(
    real: sp.csc_matrix,
    synth: sp.csc_matrix,
    encoder: Encoder,
    top_codes: list[str],
    *,
    with_heatmap: bool = True,
) -> dict[str, Any]:
    """Correlation error over the selected columns and co-occurrence error over the top codes."""
    cols = select_columns(encoder, top_codes)
    out: dict[str, Any] = {"n_columns": len(cols), "n_pairs": 0, "correlation_mae": None}
    if len(cols) < 2:
        out["note"] = "fewer than 2 columns to compare"
        return out
    c_real = correlation_matrix(real[:, cols])
    c_synth = correlation_matrix(synth[:, cols])
    sources = encoder.source_[cols]
    iu = np.triu_indices(len(cols), 1)
    keep = sources[iu[0]] != sources[iu[1]]
    r_vec, s_vec = c_real[iu][keep], c_synth[iu][keep]
    diff = np.abs(r_vec - s_vec)
    out.update(
        n_pairs=int(keep.sum()),
        correlation_mae=float(diff.mean()) if len(diff) else None,
        correlation_rmse=float(np.sqrt(np.mean(diff**2))) if len(diff) else None,
        correlation_max_error=float(diff.max()) if len(diff) else None,
        correlation_r=pearson(r_vec, s_vec),
    )
    # Binary codes come first in the encoding and in ``cols``, so the first len(top_codes) columns are codes.
    out["cooccurrence"] = _cooccurrence(real[:, cols], synth[:, cols], len(top_codes))
    if with_heatmap:
        n_codes = len(top_codes)
        others = list(range(n_codes, len(cols)))[: HEATMAP_SIZE - min(HEATMAP_CODES, n_codes)]
        picked = list(range(min(n_codes, HEATMAP_SIZE - len(others)))) + others
        names = [encoder.names_[cols[j]] for j in picked]
        sub = (c_real - c_synth)[np.ix_(picked, picked)]
        out["heatmap"] = {"columns": names, "real_minus_synthetic": np.round(sub, 4).tolist()}
    return out
