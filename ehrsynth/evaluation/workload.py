"""The metrics the DP synthetic-data field reports (DESIGN §4b, §6), computed the same way for every method.

- :func:`column_fidelity` — one row per column: total variation distance (TVD, ½ Σ |p − q|) between the
  observed-value frequencies of binary and categorical columns, two-sample Kolmogorov–Smirnov distance for
  count / continuous / datetime columns, the missing rates of both tables, both ranges, and the share of the
  synthetic column's observed values outside the real range (numbers) or outside the real categories.
- :func:`workload_error` — the AIM/GEM workload error: mean (and max) TVD over **all** 2-way marginals and
  over a seeded sample of 3-way marginals, plus the mean/max absolute error of the individual counting
  queries (the cells of those marginals, as fractions of rows — the GEM/RAP "max/mean query error").
- :func:`workload_floor` — the same numbers for the independent-marginals floor: every real column shuffled
  independently (exact 1-way marginals, no dependence), so every workload number has its floor beside it.

Discretisation for marginals (:func:`discretise`): binary 0/1, categorical = the real table's categories plus
one "other" cell for synthetic values never seen in the real table, numeric = ``n_bins`` quantile bins of the
**real** column (its inner quantile edges; values beyond the real range fall into the end bins, which
:func:`column_fidelity` reports separately). A missing value is a cell of its own in every column that has
one in either table. The real table is the reference: pass the training table the synthesizer was fitted on
(the field's "workload error on the private data"); a real holdout passed as ``synth`` gives the sampling
noise of a table that size.

Speed: all 2-way marginals come from one product of one-hot matrices, XᵀX (rows in chunks), and block sums of
|Cᵣ/nᵣ − Cₛ/nₛ| (``np.add.reduceat``); 208 columns × 8k rows (21,528 pairs, 1,000 triples) take about 1 s. The
3-way sample uses ``np.bincount`` on combined integer codes. numpy and pandas only (no torch).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import InvalidParameterError
from ehrsynth.evaluation.baselines import RandomState, as_generator, column_shuffled
from ehrsynth.evaluation.columns import (
    ColumnPlan,
    SchemaLike,
    check_frame,
    check_same_columns,
    plan_columns,
)
from ehrsynth.evaluation.marginals import ks_statistic, total_variation
from ehrsynth.evaluation.prepare import MISSING, Prepared, prepare

FIDELITY_COLUMNS = [
    "column",
    "kind",
    "metric",
    "value",
    "real_min",
    "real_max",
    "synth_min",
    "synth_max",
    "real_missing",
    "synth_missing",
    "outside_range",
]
_CHUNK_ROWS = 4096


# -- per-column fidelity ---------------------------------------------------------------------------------


def _tables(
    real: pd.DataFrame, synth: pd.DataFrame, schema: SchemaLike | None
) -> tuple[ColumnPlan, Prepared, Prepared]:
    check_frame(real, "real")
    check_frame(synth, "synthetic")
    plan = plan_columns(real, schema)
    check_same_columns(real, synth, "synthetic", plan)
    return plan, prepare(real, plan, "real"), prepare(synth, plan, "synthetic")


def _range(values: np.ndarray) -> tuple[float, float]:
    obs = values[~np.isnan(values)]
    return (float(obs.min()), float(obs.max())) if len(obs) else (math.nan, math.nan)


def _numeric_row(name: str, kind: str, r: np.ndarray, s: np.ndarray, metric: str) -> dict[str, Any]:
    r_lo, r_hi = _range(r)
    s_lo, s_hi = _range(s)
    s_obs = s[~np.isnan(s)]
    outside = float(np.mean((s_obs < r_lo) | (s_obs > r_hi))) if len(s_obs) and not math.isnan(r_lo) else 0.0
    if metric == "ks":
        value = ks_statistic(r, s)
    else:  # binary: TVD of the observed 0/1 frequencies
        r_obs = r[~np.isnan(r)]
        value = total_variation(r_obs.astype(str), s_obs.astype(str)) if len(r_obs) and len(s_obs) else 1.0
    return {
        "column": name,
        "kind": kind,
        "metric": metric,
        "value": math.nan if value is None else float(value),
        "real_min": r_lo,
        "real_max": r_hi,
        "synth_min": s_lo,
        "synth_max": s_hi,
        "real_missing": float(np.mean(np.isnan(r))),
        "synth_missing": float(np.mean(np.isnan(s))),
        "outside_range": outside,
    }


def _categorical_row(name: str, r: np.ndarray, s: np.ndarray) -> dict[str, Any]:
    r_obs, s_obs = r[r != MISSING], s[s != MISSING]
    if len(r_obs) and len(s_obs):
        value = total_variation(r_obs, s_obs)
    else:
        value = math.nan if len(r_obs) == len(s_obs) == 0 else 1.0
    unseen = ~np.isin(s_obs, np.unique(r_obs)) if len(s_obs) else np.zeros(0, bool)
    return {
        "column": name,
        "kind": "categorical",
        "metric": "tvd",
        "value": float(value),
        "real_min": math.nan,
        "real_max": math.nan,
        "synth_min": math.nan,
        "synth_max": math.nan,
        "real_missing": float(np.mean(r == MISSING)),
        "synth_missing": float(np.mean(s == MISSING)),
        "outside_range": float(unseen.mean()) if len(s_obs) else 0.0,
    }


def column_fidelity(
    real: pd.DataFrame, synth: pd.DataFrame, schema: SchemaLike | None = None
) -> pd.DataFrame:
    """One row per evaluated column (real table order), columns :data:`FIDELITY_COLUMNS`.

    ``metric`` is ``"tvd"`` (binary, categorical: observed values only) or ``"ks"`` (count, continuous,
    datetime in days); ``value`` is that distance in [0, 1]. ``real_missing``/``synth_missing`` are missing
    rates (their difference is the missing-rate error); ``outside_range`` is the share of the synthetic
    column's observed values below the real minimum or above the real maximum (numbers, 0/1) or in a category
    the real column never takes. ``schema``: as in :func:`ehrsynth.evaluation.evaluate` (kinds only).
    """
    plan, p_real, p_synth = _tables(real, synth, schema)
    rows: list[dict[str, Any]] = []
    for name, kind in plan.kinds.items():
        if kind == "binary":
            j = plan.binary.index(name)
            rows.append(_numeric_row(name, kind, p_real.binary[:, j], p_synth.binary[:, j], "tvd"))
        elif kind == "categorical":
            rows.append(_categorical_row(name, p_real.categorical[name], p_synth.categorical[name]))
        else:
            j = plan.numeric.index(name)
            rows.append(_numeric_row(name, kind, p_real.numeric[:, j], p_synth.numeric[:, j], "ks"))
    return pd.DataFrame(rows, columns=FIDELITY_COLUMNS)


def fidelity_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Headline numbers of a :func:`column_fidelity` table: worst and mean TVD / KS, worst missing-rate error,
    worst outside-range share, each with the column it comes from."""
    out: dict[str, Any] = {}
    missing_error = (table["real_missing"] - table["synth_missing"]).abs()
    parts = {
        "tvd": table.loc[table["metric"] == "tvd", "value"],
        "ks": table.loc[table["metric"] == "ks", "value"],
        "missing_error": missing_error,
        "outside_range": table["outside_range"],
    }
    for key, values in parts.items():
        values = values.dropna()
        if len(values) == 0:
            out[f"{key}_max"] = out[f"{key}_mean"] = out[f"{key}_max_column"] = None
            continue
        where = values.idxmax()
        out[f"{key}_max"] = float(values.max())
        out[f"{key}_mean"] = float(values.mean())
        out[f"{key}_max_column"] = str(table.loc[where, "column"])
    return out


# -- discretisation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coded:
    """Both tables as integer cell codes over the same discrete domain (see :func:`discretise`)."""

    names: list[str]
    sizes: np.ndarray  # cells per column
    real: np.ndarray  # n_real × d, int64 codes in [0, sizes[j])
    synth: np.ndarray  # n_synth × d


def _code_values(r: np.ndarray, s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of two string arrays over the real ``values`` (sorted), then "other", then missing."""
    size = len(values)
    out = []
    for arr in (r, s):
        pos = np.searchsorted(values, arr).clip(0, max(size - 1, 0))
        known = (values[pos] == arr) if size else np.zeros(len(arr), bool)
        out.append(np.where(known, pos, -1))
    other = bool(np.any((out[1] < 0) & (s != MISSING)))
    missing = bool(np.any(r == MISSING) or np.any(s == MISSING))
    for arr, codes in zip((r, s), out, strict=True):
        codes[(codes < 0) & (arr != MISSING)] = size  # other (only synthetic values can be unseen)
        codes[arr == MISSING] = size + int(other)
    return out[0], out[1], size + int(other) + int(missing)


def _code_numeric(r: np.ndarray, s: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Quantile bins of the real column (inner edges, duplicates merged); NaN → its own last cell."""
    obs = r[~np.isnan(r)]
    qs = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    edges = np.unique(np.quantile(obs, qs)) if len(obs) else np.zeros(0)
    n_cells = len(edges) + 1
    missing = bool(np.isnan(r).any() or np.isnan(s).any())
    out = []
    for arr in (r, s):
        codes = np.searchsorted(edges, np.nan_to_num(arr), side="right")
        out.append(np.where(np.isnan(arr), n_cells, codes))
    return out[0], out[1], n_cells + int(missing)


def discretise(
    real: pd.DataFrame, synth: pd.DataFrame, schema: SchemaLike | None = None, n_bins: int = 10
) -> Coded:
    """Integer-code every evaluated column of both tables over one domain (rules in the module docstring)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise InvalidParameterError(f"n_bins must be an integer >= 2, found {n_bins!r}")
    plan, p_real, p_synth = _tables(real, synth, schema)
    names, sizes, codes_r, codes_s = [], [], [], []
    for name, kind in plan.kinds.items():
        if kind == "binary":
            j = plan.binary.index(name)
            r, s = p_real.binary[:, j], p_synth.binary[:, j]
            missing = bool(np.isnan(r).any() or np.isnan(s).any())
            cr, cs = (np.where(np.isnan(a), 2, np.nan_to_num(a)).astype(np.int64) for a in (r, s))
            size = 2 + int(missing)
        elif kind == "categorical":
            r_cat, s_cat = p_real.categorical[name], p_synth.categorical[name]
            values = np.unique(r_cat[r_cat != MISSING]).astype(object)
            cr, cs, size = _code_values(r_cat, s_cat, values)
        else:
            j = plan.numeric.index(name)
            cr, cs, size = _code_numeric(p_real.numeric[:, j], p_synth.numeric[:, j], int(n_bins))
        names.append(name)
        sizes.append(size)
        codes_r.append(cr.astype(np.int64))
        codes_s.append(cs.astype(np.int64))
    return Coded(
        names=names,
        sizes=np.asarray(sizes, dtype=np.int64),
        real=np.column_stack(codes_r),
        synth=np.column_stack(codes_s),
    )


# -- workload error ---------------------------------------------------------------------------------------


def _joint(codes: np.ndarray, offsets: np.ndarray, n_cells: int) -> np.ndarray:
    """All 2-way cell frequencies at once: (XᵀX) / n for the one-hot X of ``codes`` (rows in chunks)."""
    out = np.zeros((n_cells, n_cells), dtype=np.float64)
    cols = codes + offsets[None, :]
    for start in range(0, len(codes), _CHUNK_ROWS):
        block = cols[start : start + _CHUNK_ROWS]
        x = np.zeros((len(block), n_cells), dtype=np.float32)
        np.put_along_axis(x, block, 1.0, axis=1)
        out += (x.T @ x).astype(np.float64)  # exact: counts < 2**24 per chunk
    return out / max(len(codes), 1)


def pairwise_tvd(coded: Coded) -> tuple[np.ndarray, float, float]:
    """(d × d matrix of 2-way marginal TVDs, with the 1-way TVDs on the diagonal; mean and max absolute
    cell error over the off-diagonal 2-way marginals)."""
    offsets = np.concatenate([[0], np.cumsum(coded.sizes)[:-1]]).astype(np.int64)
    n_cells = int(coded.sizes.sum())
    diff = np.abs(_joint(coded.real, offsets, n_cells) - _joint(coded.synth, offsets, n_cells))
    sums = np.add.reduceat(np.add.reduceat(diff, offsets, axis=0), offsets, axis=1)
    maxes = np.maximum.reduceat(np.maximum.reduceat(diff, offsets, axis=0), offsets, axis=1)
    upper = np.triu(np.ones_like(sums, dtype=bool), k=1)
    cells = np.outer(coded.sizes, coded.sizes)[upper].sum()
    mean_q = float(sums[upper].sum() / cells) if cells else math.nan
    max_q = float(maxes[upper].max()) if upper.any() else math.nan
    return 0.5 * sums, mean_q, max_q


def sample_triples(d: int, n: int, random_state: RandomState = 0) -> np.ndarray:
    """``n`` distinct column triples (i < j < k) drawn uniformly (all of them when there are fewer)."""
    total = d * (d - 1) * (d - 2) // 6
    if total <= n:
        idx = np.array([(i, j, k) for i in range(d) for j in range(i + 1, d) for k in range(j + 1, d)])
        return idx.reshape(-1, 3).astype(np.int64)
    rng = as_generator(random_state)
    seen: set[tuple[int, int, int]] = set()
    out: list[tuple[int, int, int]] = []
    while len(out) < n:
        a, b, c = sorted(int(v) for v in rng.choice(d, size=3, replace=False))
        if (a, b, c) not in seen:
            seen.add((a, b, c))
            out.append((a, b, c))
    return np.asarray(out, dtype=np.int64)


def triple_errors(coded: Coded, triples: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(TVD of each 3-way marginal; mean and max absolute cell error over all their cells)."""
    tvd = np.empty(len(triples))
    abs_sum, n_cells, abs_max = 0.0, 0, 0.0
    for t, (a, b, c) in enumerate(triples):
        kb, kc = coded.sizes[b], coded.sizes[c]
        size = int(coded.sizes[a] * kb * kc)
        freqs = []
        for codes in (coded.real, coded.synth):
            flat = (codes[:, a] * kb + codes[:, b]) * kc + codes[:, c]
            freqs.append(np.bincount(flat, minlength=size) / max(len(codes), 1))
        diff = np.abs(freqs[0] - freqs[1])
        tvd[t] = 0.5 * diff.sum()
        abs_sum += float(diff.sum())
        n_cells += size
        abs_max = max(abs_max, float(diff.max()))
    return tvd, (abs_sum / n_cells if n_cells else math.nan), (abs_max if n_cells else math.nan)


@dataclass(frozen=True)
class WorkloadError:
    """Workload error of one synthetic table against the real one (fractions of rows, all in [0, 1])."""

    tvd_1way_mean: float
    tvd_2way_mean: float
    tvd_2way_max: float
    tvd_3way_mean: float
    tvd_3way_max: float
    query_error_2way_mean: float
    query_error_2way_max: float
    query_error_3way_mean: float
    query_error_3way_max: float
    n_columns: int
    n_pairs: int
    n_triples: int
    n_bins: int

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def _check_counts(n_triples: Any) -> None:
    if isinstance(n_triples, bool) or not isinstance(n_triples, (int, np.integer)) or n_triples < 0:
        raise InvalidParameterError(f"n_triples must be a non-negative integer, found {n_triples!r}")


def workload_error(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    *,
    schema: SchemaLike | None = None,
    n_bins: int = 10,
    n_triples: int = 1000,
    random_state: RandomState = 0,
) -> WorkloadError:
    """Mean/max TVD over all 2-way marginals and ``n_triples`` seeded 3-way marginals, and the mean/max
    absolute counting-query error over their cells (see the module docstring for the discretisation).

    The triples depend only on the number of columns and ``random_state``, so every method compared on the
    same table with the same seed is scored on the same marginals.
    """
    _check_counts(n_triples)
    coded = discretise(real, synth, schema, n_bins)
    d = len(coded.names)
    matrix, q2_mean, q2_max = pairwise_tvd(coded)
    upper = matrix[np.triu_indices(d, k=1)]
    triples = sample_triples(d, int(n_triples), random_state) if n_triples else np.zeros((0, 3), np.int64)
    tvd3, q3_mean, q3_max = triple_errors(coded, triples)
    return WorkloadError(
        tvd_1way_mean=float(np.diag(matrix).mean()),
        tvd_2way_mean=float(upper.mean()) if len(upper) else math.nan,
        tvd_2way_max=float(upper.max()) if len(upper) else math.nan,
        tvd_3way_mean=float(tvd3.mean()) if len(tvd3) else math.nan,
        tvd_3way_max=float(tvd3.max()) if len(tvd3) else math.nan,
        query_error_2way_mean=q2_mean,
        query_error_2way_max=q2_max,
        query_error_3way_mean=q3_mean,
        query_error_3way_max=q3_max,
        n_columns=d,
        n_pairs=len(upper),
        n_triples=len(triples),
        n_bins=int(n_bins),
    )


def workload_floor(
    real: pd.DataFrame,
    *,
    schema: SchemaLike | None = None,
    n_bins: int = 10,
    n_triples: int = 1000,
    random_state: RandomState = 0,
) -> WorkloadError:
    """:func:`workload_error` of the real table with every column shuffled independently (seeded): exact
    1-way marginals and no dependence — the independent-marginals floor every synthesizer must beat."""
    shuffled = column_shuffled(real, random_state=as_generator(random_state))
    return workload_error(
        real, shuffled, schema=schema, n_bins=n_bins, n_triples=n_triples, random_state=random_state
    )
