"""One-column comparisons: per-code probability, per-count average, categorical TVD and numeric KS.

Conventions: prevalences and averages ignore missing values; a Pearson r over codes is ``None`` when either
side is constant (or fewer than 2 codes); the KS distance of a numeric column that has no observed values on
exactly one side is 1 (maximal), on both sides ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from ehrsynth.evaluation.columns import ColumnPlan
from ehrsynth.evaluation.prepare import Prepared


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation of two vectors, ignoring pairs with a NaN; ``None`` when undefined."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _errors(real: np.ndarray, synth: np.ndarray) -> dict[str, float | None]:
    ok = np.isfinite(real) & np.isfinite(synth)
    if not ok.any():
        return {"pearson_r": None, "rmse": None, "mae": None}
    diff = real[ok] - synth[ok]
    return {
        "pearson_r": pearson(real, synth),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "mae": float(np.mean(np.abs(diff))),
    }


def _nanmean_cols(a: np.ndarray) -> np.ndarray:
    if a.shape[1] == 0:
        return np.zeros(0)
    with np.errstate(all="ignore"):
        counts = np.sum(~np.isnan(a), axis=0)
        sums = np.nansum(a, axis=0, dtype=np.float64)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def prevalence(table: Prepared) -> np.ndarray:
    """Share of 1s per binary column (missing values ignored)."""
    return _nanmean_cols(table.binary)


def dimension_wise_probability(
    real: Prepared, synthetic: Prepared, plan: ColumnPlan, *, with_arrays: bool = True
) -> dict[str, Any]:
    """Per-code prevalence, real (train) vs synthetic: Pearson r, RMSE, MAE and the scatter arrays."""
    p_real, p_synth = prevalence(real), prevalence(synthetic)
    out: dict[str, Any] = {"n_codes": len(plan.binary), **_errors(p_real, p_synth)}
    if with_arrays:
        out.update(codes=plan.binary, real=p_real.tolist(), synthetic=p_synth.tolist())
    return out


def dimension_wise_count(real: Prepared, synthetic: Prepared, plan: ColumnPlan) -> dict[str, Any] | None:
    """Average value per count column, real vs synthetic (``None`` when there are no count columns)."""
    names = plan.numeric
    idx = [j for j, name in enumerate(names) if plan.kinds[name] == "count"]
    if not idx:
        return None
    m_real = _nanmean_cols(real.numeric[:, idx])
    m_synth = _nanmean_cols(synthetic.numeric[:, idx])
    return {
        "n_columns": len(idx),
        **_errors(m_real, m_synth),
        "columns": [names[j] for j in idx],
        "real": m_real.tolist(),
        "synthetic": m_synth.tolist(),
    }


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sample Kolmogorov–Smirnov distance sup |F_a − F_b| on the observed (non-NaN) values
    (:func:`scipy.stats.ks_2samp`); 1 when only one side has values, None when neither has."""
    a = a[~np.isnan(a)]
    b = b[~np.isnan(b)]
    if len(a) == 0 and len(b) == 0:
        return None
    if len(a) == 0 or len(b) == 0:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):  # only the p-value (unused) can divide by zero
        return float(ks_2samp(a, b, method="asymp").statistic)


def total_variation(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance ½ Σ |p − q| between the category frequencies of two string arrays."""
    values_a, counts_a = np.unique(a, return_counts=True)
    values_b, counts_b = np.unique(b, return_counts=True)
    p = dict(zip(values_a.tolist(), (counts_a / len(a)).tolist(), strict=True))
    q = dict(zip(values_b.tolist(), (counts_b / len(b)).tolist(), strict=True))
    return 0.5 * float(sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q)))


def marginal_distances(real: Prepared, synthetic: Prepared, plan: ColumnPlan) -> dict[str, Any]:
    """TVD per categorical column, KS per count/continuous/datetime column, and their means."""
    tvd = {
        name: total_variation(real.categorical[name], synthetic.categorical[name])
        for name in plan.categorical
    }
    ks = {
        name: ks_statistic(real.numeric[:, j], synthetic.numeric[:, j]) for j, name in enumerate(plan.numeric)
    }
    ks_values = [v for v in ks.values() if v is not None]
    return {
        "tvd": tvd,
        "tvd_mean": float(np.mean(list(tvd.values()))) if tvd else None,
        "ks": ks,
        "ks_mean": float(np.mean(ks_values)) if ks_values else None,
    }
