"""MST and AIM run directly on ``mbi`` 2.0 (private-pgm, McKenna et al., Apache-2.0) in benchmarks/.venv-pgm.

The ``mbi`` wheel ships the estimation engine (Private-PGM: a graphical model fitted to noisy marginals with
mirror descent, JAX) but not the mechanisms; this module writes them from the papers, with the choices below
stated so the benchmark's numbers can be read against them. numpy/pandas + mbi only (no torch, no ehrsynth).

Both work on the benchmark's discretised table (:mod:`tabular`: declared public domains, numbers in 20
equal-width bins, missing as its own value) and use zCDP accounting: ρ from (ε, δ) as in :mod:`dp_marginals`;
a Gaussian release of a vector with L2 sensitivity 1 (one marginal) and noise σ costs 1/(2σ²); an exponential
mechanism with parameter ε₀ costs ε₀²/8 (Cesar & Rogers 2021, as MST/AIM use). Neighbours: add/remove one row.

MST (McKenna, Miklau & Sheldon 2021, "Winning the NIST contest"): ρ/3 on all 1-way marginals (σ₁ = √(3d/2ρ)),
domain compression (values whose noisy count is below 3σ₁ are merged into one value, re-expanded uniformly at
sampling), ρ/3 on selecting a maximum spanning tree by d − 1 exponential mechanisms (Kruskal; the score of a
pair is ‖x_ab − x̂_ab‖₁ with x̂ the independent model, sensitivity 1), ρ/3 on measuring the d − 1 tree pairs,
then mirror descent and sampling. Here x̂ is the product of the clipped, normalised noisy 1-way counts (the
independent model MST estimates from 1-way measurements, computed directly instead of by mirror descent), and
all pair counts come from one one-hot matrix product.

AIM (McKenna, Mullins, Sheldon & Miklau 2022), workload = all 2-way marginals, candidates = all pairs (equal
weights). Changes forced by the time box, all reported by the benchmark: ``rounds`` is the planned number of
rounds T (the paper uses 16·d), a share ``init_share`` of ρ measures the 1-way marginals (the paper's share is
0.9/16 with T = 16·d), each round spends 0.1 of its share on selection and 0.9 on measurement, with the
paper's annealing (σ halves when a measurement changes the model less than its expected noise) and the last
round using what is left. The model's pair marginals for scoring are estimated from ``score_rows`` rows
sampled from the current model (exact inference over every pair each round is too slow here); that sample is
post-processing of released values, so the guarantee is unchanged. The size filter (``max_model_size`` MB
scaled by the budget used, as in the paper) is applied in descending Gumbel-noised score order, which samples
the exponential mechanism restricted to the feasible candidates exactly.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from dp_marginals import zcdp_rho
from tabular import discretize, domain

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


_T0 = time.perf_counter()


def progress(msg: str) -> None:
    """One line to the worker's log (stderr): where a run that hits the time limit got to."""
    import sys

    print(f"[pgm {time.perf_counter() - _T0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def _mbi() -> Any:
    import warnings

    import jax

    jax.config.update("jax_enable_x64", True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mbi
    return mbi


# -- discrete codes ---------------------------------------------------------------------------------------


def to_codes(train: pd.DataFrame, schema: dict[str, dict[str, Any]]) -> tuple[np.ndarray, list[list[str]]]:
    """n × d integer codes of the discretised table and, per column, its string values in code order."""
    disc = discretize(train, schema)
    values = [[str(v) for v in domain(spec)] for spec in schema.values()]
    codes = np.empty(disc.shape, dtype=np.int64)
    for j, (name, vals) in enumerate(zip(schema, values, strict=True)):
        lookup = {v: i for i, v in enumerate(vals)}
        codes[:, j] = disc[name].map(lookup).fillna(0).to_numpy(np.int64)
    return codes, values


def pair_counts(codes: np.ndarray, sizes: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(All 2-way cell counts as one D × D matrix XᵀX of the one-hot X, the column offsets in it)."""
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    n_cells = int(sizes.sum())
    out = np.zeros((n_cells, n_cells))
    cols = codes + offsets[None, :]
    for start in range(0, len(codes), chunk):
        x = np.zeros((len(cols[start : start + chunk]), n_cells), dtype=np.float32)
        np.put_along_axis(x, cols[start : start + chunk], 1.0, axis=1)
        out += (x.T @ x).astype(np.float64)
    return out, offsets


def block_l1(diff: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """d × d matrix of Σ|diff| over each (column a, column b) block."""
    return np.add.reduceat(np.add.reduceat(np.abs(diff), offsets, axis=0), offsets, axis=1)


def gumbel_order(scores: np.ndarray, eps0: float, rng: np.random.Generator) -> np.ndarray:
    """Candidates in descending order of ε₀/2 · score + Gumbel noise: the first is an exponential-mechanism
    draw (sensitivity 1, non-monotone scores); the first feasible one is a draw restricted to the feasible."""
    noisy = 0.5 * eps0 * scores + rng.gumbel(size=len(scores))
    return np.argsort(-noisy, kind="stable")


# -- measurements ---------------------------------------------------------------------------------------


def measure(
    mbi: Any,
    codes: np.ndarray,
    names: list[str],
    sizes: np.ndarray,
    cl: tuple[int, ...],
    sigma: float,
    rng: np.random.Generator,
) -> Any:
    flat = np.zeros(len(codes), dtype=np.int64)
    for j in cl:
        flat = flat * sizes[j] + codes[:, j]
    size = int(np.prod([sizes[j] for j in cl]))
    x = np.bincount(flat, minlength=size).astype(float)
    y = x + rng.normal(0.0, sigma, size=size)
    return mbi.LinearMeasurement(y, tuple(names[j] for j in cl), stddev=sigma)


def compress(y: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """MST's domain compression of one column from its noisy counts: (map old → new code, kept mask)."""
    keep = y >= 3.0 * sigma
    new = np.cumsum(keep) - 1
    merged = int(keep.sum())
    mapping = np.where(keep, new, merged)
    return mapping.astype(np.int64), keep


class PGMSynthesizer:
    """MST or AIM on mbi: ``fit(train, schema)`` then ``sample(n)`` (discretised strings, as smartnoise)."""

    def __init__(
        self, mechanism: str, epsilon: float, delta: float, random_state: int = 0, **options: Any
    ) -> None:
        self.mechanism = mechanism
        self.epsilon = epsilon
        self.delta = delta
        self.random_state = random_state
        self.options = options

    def fit(self, train: pd.DataFrame, schema: dict[str, dict[str, Any]]) -> PGMSynthesizer:
        mbi = _mbi()
        rng = np.random.default_rng(self.random_state)
        self.rho_ = zcdp_rho(self.epsilon, self.delta)
        self.schema_ = schema
        codes, self.values_ = to_codes(train, schema)
        self.names_ = [f"c{j}" for j in range(codes.shape[1])]  # mbi attribute names (column names vary)
        start = time.perf_counter()
        if self.mechanism == "mst":
            self._mst(mbi, codes, rng)
        else:
            self._aim(mbi, codes, rng)
        self.info_["fit_inner_seconds"] = time.perf_counter() - start
        return self

    # MST ------------------------------------------------------------------------------------------------
    def _mst(self, mbi: Any, codes: np.ndarray, rng: np.random.Generator) -> None:
        d = codes.shape[1]
        sizes = np.array([len(v) for v in self.values_])
        sigma1 = math.sqrt(3.0 * d / (2.0 * self.rho_))  # d 1-way marginals share ρ/3
        noisy1 = [measure(mbi, codes, self.names_, sizes, (j,), sigma1, rng) for j in range(d)]
        self.maps_, ones = [], []
        for j, m in enumerate(noisy1):
            y = np.asarray(m.noisy_measurement)
            mapping, keep = compress(y, sigma1)
            self.maps_.append(mapping)
            k = int(mapping.max()) + 1
            if keep.all():
                ones.append(m)
                continue
            merged = y[~keep].sum() / math.sqrt((~keep).sum())
            weights = np.ones(k)
            weights[-1] = 1.0 / math.sqrt((~keep).sum())
            query = mbi.WeightedQuery(weights)
            ones.append(mbi.LinearMeasurement(np.append(y[keep], merged), (self.names_[j],), sigma1, query))
        small = np.column_stack([self.maps_[j][codes[:, j]] for j in range(d)])
        ksize = np.array([int(mp.max()) + 1 for mp in self.maps_])
        progress(f"MST: 1-way measured, {int(sizes.sum())} cells compressed to {int(ksize.sum())}")
        edges = self._mst_select(small, ksize, ones, rng)
        progress(f"MST: {len(edges)} tree edges selected")
        sigma2 = math.sqrt(3.0 * (d - 1) / (2.0 * self.rho_))
        twos = [measure(mbi, small, self.names_, ksize, e, sigma2, rng) for e in edges]
        self.domain_ = mbi.Domain.fromdict({n: int(k) for n, k in zip(self.names_, ksize, strict=True)})
        iters = int(self.options.get("iters", 1000))
        self.model_ = mbi.estimation.MirrorDescent().estimate(self.domain_, ones + twos, iters=iters)
        progress(f"MST: mirror descent done ({iters} iterations)")
        self.info_ = {
            "sigma_1way": sigma1,
            "sigma_pairs": sigma2,
            "edges": len(edges),
            "iters": iters,
            "compressed_cells": int(ksize.sum()),
            "cells": int(sizes.sum()),
        }

    def _mst_select(
        self, small: np.ndarray, ksize: np.ndarray, ones: list[Any], rng: np.random.Generator
    ) -> list[tuple[int, int]]:
        d, n = small.shape[1], len(small)
        probs = []
        for j, m in enumerate(ones):
            y = np.clip(np.asarray(m.noisy_measurement, float), 0, None)
            if y.size != ksize[j] or len(y) == 0:
                y = np.ones(ksize[j])
            if not np.isclose(m.stddev, 0) and hasattr(m.query, "weights"):
                y = y / np.asarray(m.query.weights)  # undo the √m scaling of the merged cell
            probs.append(y / y.sum() if y.sum() > 0 else np.full(ksize[j], 1.0 / ksize[j]))
        counts, offsets = pair_counts(small, ksize)
        p = np.concatenate(probs)
        weights = block_l1(counts - n * np.outer(p, p), offsets)  # ‖x_ab − x̂_ab‖₁ for every pair
        iu, ju = np.triu_indices(d, k=1)
        w = weights[iu, ju]
        comp = np.arange(d)
        eps0 = math.sqrt(8.0 * (self.rho_ / 3.0) / (d - 1))
        edges: list[tuple[int, int]] = []
        for _ in range(d - 1):
            open_ = np.flatnonzero(comp[iu] != comp[ju])
            pick = open_[gumbel_order(w[open_], eps0, rng)[0]]
            a, b = int(iu[pick]), int(ju[pick])
            comp[comp == comp[b]] = comp[a]
            edges.append((a, b))
        return edges

    # AIM ------------------------------------------------------------------------------------------------
    def _aim(self, mbi: Any, codes: np.ndarray, rng: np.random.Generator) -> None:
        n, d = codes.shape
        sizes = np.array([len(v) for v in self.values_])
        self.maps_ = [np.arange(k) for k in sizes]
        self.domain_ = mbi.Domain.fromdict({nm: int(k) for nm, k in zip(self.names_, sizes, strict=True)})
        rounds = int(self.options.get("rounds", 8))
        init_share = float(self.options.get("init_share", 0.2))
        max_size = float(self.options.get("max_model_size", 10.0))
        iters = int(self.options.get("iters", 300))
        score_rows = int(self.options.get("score_rows", 20000))
        deadline = time.perf_counter() + float(self.options.get("time_budget_s", 1e9))
        rho0 = init_share * self.rho_
        sigma0 = math.sqrt(d / (2.0 * rho0))
        ms = [measure(mbi, codes, self.names_, sizes, (j,), sigma0, rng) for j in range(d)]
        used = rho0
        rest = self.rho_ - rho0
        sigma = math.sqrt(rounds / (2.0 * 0.9 * rest))
        eps0 = math.sqrt(8.0 * 0.1 * rest / rounds)
        true_counts, offsets = pair_counts(codes, sizes)
        iu, ju = np.triu_indices(d, k=1)
        cells = sizes[iu] * sizes[ju]
        est = mbi.estimation.MirrorDescent()
        model = est.estimate(self.domain_, ms, iters=iters)
        progress("AIM: model of the 1-way measurements fitted")
        chosen: list[tuple[int, int]] = []
        log: list[dict[str, Any]] = []
        done = False
        while not done:
            if self.rho_ - used < 2 * (0.5 / sigma**2 + eps0**2 / 8.0) or time.perf_counter() > deadline:
                left = self.rho_ - used  # spend what is left on one last round
                sigma, eps0, done = math.sqrt(1.0 / (2.0 * 0.9 * left)), math.sqrt(8.0 * 0.1 * left), True
            used += 0.5 / sigma**2 + eps0**2 / 8.0
            sample = self._model_codes(model, score_rows)
            fitted = pair_counts(sample, sizes)[0] * (n / max(len(sample), 1))
            err = block_l1(true_counts - fitted, offsets)[iu, ju] - math.sqrt(2 / math.pi) * sigma * cells
            limit = max_size * used / self.rho_
            cliques = [tuple(self.names_[j] for j in c) for c in chosen] + [(nm,) for nm in self.names_]
            pick = None
            for idx in gumbel_order(err, eps0, rng):
                cl = (self.names_[iu[idx]], self.names_[ju[idx]])
                if mbi.junction_tree.hypothetical_model_size(self.domain_, [*cliques, cl]) <= limit:
                    pick = int(idx)
                    break
            if pick is None:
                break
            pair = (int(iu[pick]), int(ju[pick]))
            before = np.asarray(model.project(tuple(self.names_[j] for j in pair)).datavector())
            ms.append(measure(mbi, codes, self.names_, sizes, pair, sigma, rng))
            chosen.append(pair)
            model = est.estimate(self.domain_, ms, iters=iters, warm_start=model)
            after = np.asarray(model.project(tuple(self.names_[j] for j in pair)).datavector())
            log.append({"pair": pair, "sigma": sigma, "rho_used": used, "t": time.perf_counter()})
            progress(f"AIM: round {len(chosen)} measured {pair}, rho used {used:.4f} of {self.rho_:.4f}")
            if not done and np.abs(after - before).sum() <= sigma * math.sqrt(2 / math.pi) * after.size:
                sigma, eps0 = sigma / 2.0, eps0 * 2.0  # the paper's annealing
        self.model_ = model
        columns = list(self.schema_)
        self.info_ = {
            "rounds_done": len(chosen),
            "rounds_planned": rounds,
            "init_share": init_share,
            "max_model_size_mb": max_size,
            "iters": iters,
            "score_rows": score_rows,
            "rho_used": used,
            "rho": self.rho_,
            "sigma_1way": sigma0,
            "pairs": [[columns[a], columns[b]] for a, b in chosen],
        }

    def _model_codes(self, model: Any, rows: int) -> np.ndarray:
        data = model.synthetic_data(rows=rows).to_dict()
        return np.column_stack([np.asarray(data[nm], dtype=np.int64) for nm in self.names_])

    # sampling -------------------------------------------------------------------------------------------
    def sample(self, n: int) -> pd.DataFrame:
        rng = np.random.default_rng(self.random_state + 1)
        small = self._model_codes(self.model_, n)
        progress(f"sampled {n} rows")
        out = {}
        for j, (name, values) in enumerate(zip(self.schema_, self.values_, strict=True)):
            mapping = self.maps_[j]
            merged = np.flatnonzero(mapping == mapping.max()) if len(mapping) else np.zeros(0, int)
            kept = np.flatnonzero(np.bincount(mapping) == 1)  # new codes that hold exactly one old value
            inverse = np.full(int(mapping.max()) + 1, -1)
            for new in kept:
                inverse[new] = int(np.flatnonzero(mapping == new)[0])
            col = inverse[small[:, j]]
            redraw = col < 0
            if redraw.any():
                col[redraw] = rng.choice(merged, size=int(redraw.sum()))
            out[name] = np.asarray(values, dtype=object)[col]
        return pd.DataFrame(out)
