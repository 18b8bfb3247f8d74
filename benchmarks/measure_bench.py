"""Measure-then-fit engine (issue 12) on the diabetes dev table: fit time and workload error vs independent marginals.

Table: patients × (race, gender, age, readmitted + the top-N ICD-9 codes), a seeded subsample of n patients,
schema declared (public; its vocabulary is taken from the table as the issue's declared-schema setting).
Runs, each a fresh generator + decoder: ε ∈ --epsilons (DP measurement at that ε) and ``none`` (exact
statistics, same engine: separates noise from model capacity). The 1-ways come from the engine's temporary
helper (the lead's release replaces it). Metrics on 10k synthetic rows vs the real table: mean total variation
distance over ALL 2-way marginals of the modelled columns and over 1,000 seeded 3-way marginals (AIM/GEM
workload error), and the Pearson r between real and synthetic pairwise correlations of the codes.
Baseline: independent EXACT marginals (each column drawn from its real frequencies). Also: the bias of each
truncation order on exact pair frequencies at the released K.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/measure_bench.py --rows 10000 --codes 200
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from _results import SHARED_DATA, environment, save_json, update_section

from ehrsynth.datasets import diabetes130_patient_table
from ehrsynth.dp.accounting import compute_epsilon
from ehrsynth.dp.marginals import apply_shifts, logit_shifts
from ehrsynth.dp.measure_budget import exact_plan, plan_measure_budget
from ehrsynth.dp.pair_clip import PairClip
from ehrsynth.dp.sparse_marginals import (
    IndicatorLayout,
    free_ones_per_row,
    indicator_matrix,
    pair_counts,
    priority,
    release_one_ways,
    truncate_rows,
)
from ehrsynth.models.medgan import Autoencoder, Generator
from ehrsynth.schema import Schema
from ehrsynth.training.measure_engine import (
    MeasureConfig,
    RowBounds,
    release_bounds,
    run_measure_engine,
)
from ehrsynth.training.query_fit import QueryFitConfig, project
from ehrsynth.transforms.table import TableTransformer

DEMOGRAPHICS = ["race", "gender", "age", "readmitted"]


def load(path: Path, rows: int, codes: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded sample of ``rows`` patients and a disjoint one of the same size (the real-data reference)."""
    df = diabetes130_patient_table(path).drop(columns=["patient_nbr"])
    code_cols = [c for c in df.columns if c.startswith("dx_")]
    top = df[code_cols].sum().sort_values(ascending=False).index[:codes]
    df = df[DEMOGRAPHICS + sorted(top)]
    perm = np.random.default_rng(seed).permutation(len(df))
    rows = min(rows, len(df) // 2)
    pick = [np.sort(perm[:rows]), np.sort(perm[rows : 2 * rows])]
    return df.iloc[pick[0]].reset_index(drop=True), df.iloc[pick[1]].reset_index(drop=True)


# -- workload metrics -------------------------------------------------------------------------------------------
def _codes(df: pd.DataFrame, columns: list[str], categories: dict[str, list[str]]) -> np.ndarray:
    out = np.zeros((len(df), len(columns)), dtype=np.int64)
    for j, c in enumerate(columns):
        s = df[c].astype(str).to_numpy()
        lookup = {v: i for i, v in enumerate(categories[c])}
        out[:, j] = [lookup.get(v, 0) for v in s]
    return out


def workload(real: pd.DataFrame, synth: pd.DataFrame, seed: int) -> dict[str, float]:
    cols = list(real.columns)
    cats = {c: sorted(set(real[c].astype(str)) | set(synth[c].astype(str))) for c in cols}
    R, S = _codes(real, cols, cats), _codes(synth, cols, cats)
    sizes = np.array([len(cats[c]) for c in cols])
    offs = np.r_[0, np.cumsum(sizes)]

    def onehot(C: np.ndarray) -> np.ndarray:
        out = np.zeros((len(C), offs[-1]), dtype=np.float32)
        for j in range(C.shape[1]):
            out[np.arange(len(C)), offs[j] + C[:, j]] = 1.0
        return out

    Or, Os = onehot(R), onehot(S)
    diff = np.abs(Or.T @ Or / len(Or) - Os.T @ Os / len(Os))
    diff_1 = Or.mean(axis=0) - Os.mean(axis=0)
    block = np.add.reduceat(np.add.reduceat(diff, offs[:-1], axis=0), offs[:-1], axis=1)
    iu = np.triu_indices(len(cols), 1)
    tvd2 = 0.5 * block[iu]
    rng = np.random.default_rng(seed)
    tvd1 = [0.5 * np.abs(diff_1[offs[j] : offs[j + 1]]).sum() for j in range(len(cols))]
    tvd3 = []
    for _ in range(1000):
        a, b, c = rng.choice(len(cols), 3, replace=False)
        kr = (R[:, a] * sizes[b] + R[:, b]) * sizes[c] + R[:, c]
        ks = (S[:, a] * sizes[b] + S[:, b]) * sizes[c] + S[:, c]
        m = sizes[a] * sizes[b] * sizes[c]
        tvd3.append(
            0.5
            * np.abs(np.bincount(kr, minlength=m) / len(kr) - np.bincount(ks, minlength=m) / len(ks)).sum()
        )
    code_cols = [c for c in cols if c.startswith("dx_")]
    ri = np.triu_indices(len(code_cols), 1)
    rc = np.corrcoef(real[code_cols].to_numpy(float).T)[ri]
    sc = np.nan_to_num(np.corrcoef(synth[code_cols].to_numpy(float).T))[ri]
    return {
        "tvd1_mean": float(np.mean(tvd1)),
        "tvd2_mean": float(tvd2.mean()),
        "tvd3_mean": float(np.mean(tvd3)),
        "code_corr_r": float(np.corrcoef(np.nan_to_num(rc), sc)[0, 1]),
        "prevalence_max_err": float(np.abs(real[code_cols].mean() - synth[code_cols].mean()).max()),
    }  # fmt: skip


def dimwise_auroc(train: pd.DataFrame, test: pd.DataFrame, top: int = 50) -> float:
    """medGAN's dimension-wise prediction: mean AUROC on ``test`` (real holdout) of a logistic regression per
    top-``top`` code, trained on ``train`` with every other column one-hot encoded (0.5 for a constant label)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    cols = list(test.columns)
    codes = test[[c for c in cols if c.startswith("dx_")]].mean().sort_values(ascending=False).index[:top]
    both = pd.get_dummies(pd.concat([train, test]).astype(str), columns=cols, dtype=np.float32)
    a, b = both.iloc[: len(train)], both.iloc[len(train) :]
    scores = []
    for c in codes:
        feats = [f for f in both.columns if not f.startswith(c + "_")]
        y_tr = train[c].astype(int).to_numpy()
        y_te = test[c].astype(int).to_numpy()
        if y_tr.min() == y_tr.max():
            scores.append(0.5)
            continue
        lr = LogisticRegression(solver="liblinear", C=1.0, tol=1e-3, max_iter=100).fit(
            a[feats].to_numpy(), y_tr
        )
        scores.append(float(roc_auc_score(y_te, lr.decision_function(b[feats].to_numpy()))))
    return float(np.mean(scores))


def independent(real: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.choice(real[c].to_numpy(), n) for c in real.columns})


# -- truncation bias --------------------------------------------------------------------------------------------
def truncation_bias(X: np.ndarray, ind: IndicatorLayout, cap: int, seed: int) -> dict[str, dict[str, float]]:
    M = indicator_matrix(X, ind)
    n = M.shape[0]
    true = pair_counts(M) / n
    one = np.asarray(M.sum(axis=0)).ravel() / n
    mask = ind.pair_mask()

    def phi(P: np.ndarray, p: np.ndarray) -> np.ndarray:
        cov = P - np.outer(p, p)
        return cov[mask] / np.sqrt(np.maximum(np.outer(p * (1 - p), p * (1 - p))[mask], 1e-12))

    out: dict[str, dict[str, float]] = {}
    phi_true = phi(true, one)
    variants: dict[str, Any] = {o: priority(ind, o, one, seed) for o in ("rarest", "commonest", "hash")}
    variants["random (per row)"] = None
    for name, rank in variants.items():
        if rank is None:  # a fresh random subset for every row: what DESIGN §4b warns against
            T = _random_truncation(M, ind, cap, np.random.default_rng(seed))
        else:
            T = truncate_rows(M, ind, cap, rank)
        P = pair_counts(T) / n
        p = np.asarray(T.sum(axis=0)).ravel() / n
        bias = (P - true)[mask]
        out[name] = {
            "pair_abs_bias_mean": float(np.abs(bias).mean()),
            "pair_abs_bias_max": float(np.abs(bias).max()),
            "phi_mean_shift": float((phi(P, p) - phi_true).mean()),
            "phi_r": float(np.corrcoef(phi(P, p), phi_true)[0, 1]),
        }
    return out


def _random_truncation(M: Any, ind: IndicatorLayout, cap: int, rng: np.random.Generator) -> Any:
    import scipy.sparse as sp

    A = M.toarray()
    free = np.flatnonzero(ind.free)
    for i in np.flatnonzero(A[:, free].sum(axis=1) > cap):
        on = free[A[i, free] > 0]
        A[i, rng.choice(on, size=len(on) - cap, replace=False)] = 0.0
    return sp.csr_matrix(A)


# -- one run ----------------------------------------------------------------------------------------------------
def _shares(text: str | None) -> dict[str, float] | None:
    """'one_way=0.5,pairs=0.33,...' → a shares dict (None: the defaults)."""
    return {k: float(v) for k, v in (item.split("=") for item in text.split(","))} if text else None


def run(
    df: pd.DataFrame,
    holdout: pd.DataFrame,
    epsilon: float | None,
    seed: int,
    config: MeasureConfig,
    args: Any,
) -> dict[str, Any]:
    schema = Schema.infer(df)
    tr = TableTransformer(schema)
    X = tr.encode(df)
    rng, tg = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    plan = (
        exact_plan(args.rounds, args.per_round)
        if epsilon is None
        else plan_measure_budget(
            epsilon=epsilon,
            delta=1e-5,
            rounds=args.rounds,
            per_round=args.per_round,
            shares=_shares(args.shares),
        )
    )
    if getattr(args, "exact_one_way", False):  # diagnostics: which release's noise limits the fit
        plan = replace(plan, one_way=None)
    if getattr(args, "exact_pairs", False):  # exact pairs of whole rows (no cap)
        plan = replace(plan, pairs=None, row_cap=None)
    bounds = release_bounds(
        X, tr.layout, plan=plan, rng=rng, quantiles=(args.one_way_quantile, args.cap_quantile)
    )
    (cap_one, cap), mechs = bounds.caps, bounds.mechanisms
    clip = (
        bounds.clip if getattr(args, "clip", False) else None
    )  # --clip: clipped pairs beside the truncated ones (the estimator's DP default)
    run = _release_and_fit(tr, X, (cap_one, cap), plan, config, seed, rng, tg, clip, bounds)
    ind, one, m1, res, gen, ae = run.ind, run.one, run.one_mechanism, run.result, run.gen, run.ae
    t2 = time.perf_counter()
    t1 = t2 - run.wall  # the engine's start: measure_seconds keeps the caps and the 1-way release
    synth, raw, indep = _synthesize(tr, ind, gen, ae, one, res.queries, len(df), seed, tg)
    synth, raw, indep = synth[df.columns], raw[df.columns], indep[df.columns]
    all_mechs = [*mechs, *([m1] if m1 else []), *res.mechanisms]
    return {
        "epsilon": epsilon,
        "cap_K": cap,
        "clip": None if clip is None else {"free": clip.free, "mixed": clip.mixed},
        "cap_one_way": cap_one,
        "units": ind.size,
        "measure_seconds": t1 - t0,
        "engine_seconds": t2 - t1,
        "fit_steps": int(sum(1 for _ in res.history["fit"])),
        "rounds_run": len(res.history["rounds"]),
        "rounds": res.history["rounds"],
        "epsilon_spent": compute_epsilon(all_mechs, 1e-5) if all_mechs else 0.0,
        "pair_sd_counts": _group_sd(res.queries) * len(df),
        "final_fit": res.history["fit"][-1],
        "raw": workload(df, raw, seed),
        "independent_dp": workload(df, indep, seed),
        "auroc": dimwise_auroc(synth, holdout),
        **workload(df, synth, seed),
    }


def _group_sd(queries: Any) -> float:
    """The largest noise sd of a measured pair (0 when exact): one value per released pair group."""
    sd = np.broadcast_to(np.asarray(queries.pair_sd, dtype=np.float64), queries.pairs.shape)
    return float(sd[queries.pair_mask].max(initial=0.0))


def _synthesize(
    tr: TableTransformer,
    ind: IndicatorLayout,
    gen: Generator,
    ae: Autoencoder,
    one: np.ndarray,
    queries: Any,
    n: int,
    seed: int,
    tg: torch.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(calibrated, raw, independent-from-the-same-1-ways) synthetic tables of ``n`` rows."""
    with torch.no_grad():
        calib = ae.decode(gen(torch.randn(20_000, 128, generator=tg))).numpy()
        probs = ae.decode(gen(torch.randn(n, 128, generator=tg))).numpy()
    # the lead's calibration: logit shifts to the released 1-ways (post-processing)
    free = ind.units[ind.free]
    shift = logit_shifts(calib[:, free], np.clip(one[ind.free], 0.5 / n, 1 - 0.5 / n))
    calibrated = probs.copy()
    calibrated[:, free] = apply_shifts(probs[:, free], shift)
    raw = tr.decode(probs, random_state=np.random.default_rng(seed))
    # the same released 1-ways, columns drawn independently: what the pairs add over the 1-way release
    flat = np.full(tr.width, 0.5)
    flat[ind.units] = project(queries).one_way
    indep = tr.decode(np.tile(flat, (n, 1)), random_state=np.random.default_rng(seed))
    synth = tr.decode(calibrated, random_state=np.random.default_rng(seed))
    return synth, raw, indep


@dataclass
class _Fit:
    ind: IndicatorLayout
    one: np.ndarray
    one_mechanism: Any
    result: Any
    gen: Generator
    ae: Autoencoder
    wall: float  # seconds of the engine run alone (wall) and this process's CPU seconds in it
    cpu: float


def _release_and_fit(
    tr: TableTransformer,
    X: np.ndarray,
    caps: tuple[int, int],
    plan: Any,
    config: MeasureConfig,
    seed: int,
    rng: np.random.Generator,
    tg: torch.Generator,
    clip: PairClip | None = None,
    bounds: RowBounds | None = None,
) -> _Fit:
    """The bench's own 1-way release (rows truncated to ``caps[0]`` ones), then the engine with cap ``caps[1]``."""
    cap_one, cap = caps
    ind = IndicatorLayout.from_layout(tr.layout)
    M = truncate_rows(indicator_matrix(X, ind), ind, cap_one, priority(ind, "hash"))
    one, sd, m1 = release_one_ways(M, ones=ind.n_fixed + cap_one, noise_multiplier=plan.one_way, rng=rng)
    torch.manual_seed(seed)  # module initialisation (the benchmark's own process)
    gen, ae = Generator(128, (128, 128), "tanh"), Autoencoder(tr.layout)
    t1, c1 = time.perf_counter(), time.process_time()
    res = run_measure_engine(
        X, tr.layout, gen, ae, one_way=one, one_way_sd=sd, cap=cap, plan=plan, rng=rng, generator_rng=tg,
        config=config, clip=clip,
        ones_hist=None if bounds is None or bounds.ones_hist is None else (bounds.ones_hist, bounds.ones_hist_sd),
    )  # fmt: skip
    return _Fit(ind, one, m1, res, gen, ae, time.perf_counter() - t1, time.process_time() - c1)


def scale_timing(
    rows: int,
    codes: int,
    epsilon: float,
    config: MeasureConfig,
    seed: int,
    rounds: int = 2,
    clip: bool = False,
) -> dict[str, Any]:
    """Engine seconds on a generated rows × codes 0/1 table (20 latent groups, each with its own codes); with
    ``clip``, the clipped pairs beside the truncated ones, as the estimator's DP path."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 20, rows)
    p = np.full((20, codes), 2.0 / codes)
    for k in range(20):
        p[k, rng.choice(codes, 10, replace=False)] = 0.3
    df = pd.DataFrame(
        (rng.random((rows, codes)) < p[g]).astype(np.uint8), columns=[f"dx_{i}" for i in range(codes)]
    )
    tr = TableTransformer(Schema.infer(df))
    X = tr.encode(df)
    tg = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    plan = plan_measure_budget(epsilon=epsilon, delta=1e-5, rounds=rounds, per_round=20)
    bounds = release_bounds(X, tr.layout, plan=plan, rng=rng, quantiles=(0.99, 0.9))
    cap_one, cap = bounds.caps
    run = _release_and_fit(
        tr, X, (cap_one, cap), plan, config, seed, rng, tg, bounds.clip if clip else None, bounds
    )
    ind, res, t2, c1, c2 = run.ind, run.result, time.perf_counter(), 0.0, run.cpu
    t1 = t2 - run.wall
    fit = res.history["fit"]
    first_end = next((i for i in range(1, len(fit)) if fit[i]["seconds"] < fit[i - 1]["seconds"]), len(fit))
    return {
        "rows": rows,
        "codes": codes,
        "epsilon": epsilon,
        "units": ind.size,
        "measure_seconds": t1 - t0,
        "engine_seconds": t2 - t1,
        "engine_cpu_seconds": c2 - c1,
        "initial_fit_seconds": fit[first_end - 1]["seconds"],
        "initial_fit_steps": fit[first_end - 1]["step"] + 1,
        "last_logged": res.history["fit"][-1],
        "rounds_run": len(res.history["rounds"]),
    }


def _scale_main(args: Any) -> None:
    cfg = MeasureConfig(
        fit=QueryFitConfig(batch=args.batch, steps=args.steps, lr=args.lr, max_seconds=args.max_seconds),
        round_steps=max(args.steps // 5, 1),
    )
    res = scale_timing(args.rows, args.scale_codes, 1.0, cfg, args.seed, args.rounds, args.clip)
    print(res)
    if args.tuning:
        from measure_tuning import record

        row = {"epsilon": 1.0, "fit_s": res["engine_seconds"], "cpu_s": res["engine_cpu_seconds"]}
        return record(args.tuning, [row])
    save_json(
        f"measure-scale{args.tag}", {"environment": environment(), "args": vars(args) | {"data": ""}, **res}
    )


def _markdown(out: dict[str, Any], args: Any, rows: int) -> str:
    lines = [
        "### Measure-then-fit engine (issue 12)\n",
        f"`python benchmarks/measure_bench.py {' '.join(sys.argv[1:])}` ({out['environment']['date']}, "
        f"{out['environment']['cpus']} cores shared, load {out['environment']['load_average_1min']:.1f}). "
        f"Diabetes dev, {rows} patients × 4 demographics + {args.codes} codes; as many synthetic rows; "
        "metrics after the 1-way logit calibration (raw fit in parentheses).\n",
        "| run | K | ε spent | measure s | fit s | 1-way TVD | 2-way TVD | 3-way TVD | code corr r | max prevalence err "
        "| dim-wise AUROC |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, key in (
        ("real holdout (same size)", "real_holdout"),
        ("independent exact marginals", "independent"),
    ):
        w = out[key]
        lines.append(
            f"| {name} | – | – | – | – | {w['tvd1_mean']:.4f} | {w['tvd2_mean']:.4f} | {w['tvd3_mean']:.4f} | "
            f"{w['code_corr_r']:.3f} | {w['prevalence_max_err']:.4f} | {w['auroc']:.3f} |"
        )
    for r in out["runs"]:
        lines.append(
            f"| measure ε={r['epsilon'] if r['epsilon'] is not None else 'none'} | {r['cap_K']} | "
            f"{r['epsilon_spent']:.3f} | {r['measure_seconds']:.1f} | {r['engine_seconds']:.1f} | "
            f"{r['tvd1_mean']:.4f} | {r['tvd2_mean']:.4f} ({r['raw']['tvd2_mean']:.4f}) | "
            f"{r['tvd3_mean']:.4f} ({r['raw']['tvd3_mean']:.4f}) | "
            f"{r['code_corr_r']:.3f} ({r['raw']['code_corr_r']:.3f}) | {r['prevalence_max_err']:.4f} | "
            f"{r['auroc']:.3f} |"
        )
        w = r["independent_dp"]
        lines.append(
            f"| same 1-way release, independent columns | | | | | {w['tvd1_mean']:.4f} | {w['tvd2_mean']:.4f} | "
            f"{w['tvd3_mean']:.4f} | {w['code_corr_r']:.3f} | {w['prevalence_max_err']:.4f} | – |"
        )
    return "\n".join(lines)


def _tuning(df: pd.DataFrame, holdout: pd.DataFrame, config: MeasureConfig, args: Any) -> None:
    from measure_tuning import record

    eps = [None if e == "none" else float(e) for e in args.epsilons]
    runs = [run(df, holdout, e, args.seed, config, args) for e in eps]
    print(*runs, sep="\n")
    record(args.tuning, [r | {"fit_s": r["engine_seconds"]} for r in runs])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--codes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epsilons", nargs="+", default=["1", "3", "none"])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--resample-every", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--per-round", type=int, default=20)
    ap.add_argument("--cap-quantile", type=float, default=0.9)
    ap.add_argument("--one-way-quantile", type=float, default=0.99)
    ap.add_argument("--truncation", default="rarest")
    ap.add_argument(
        "--clip",
        action="store_true",
        help="also measure the pairs of clipped rows (dp/pair_clip.py) beside the truncated ones, as the estimator does under DP",
    )
    ap.add_argument("--no-project", action="store_true", help="fit pairs to unclipped released values")
    ap.add_argument(
        "--shrink",
        action="store_true",
        help="empirical-Bayes denoising of the pairs first (the default before 2026-11-30 s11; rows above then)",
    )
    ap.add_argument("--spectral", action="store_true", help="low-rank denoising of the pairs first")
    ap.add_argument("--pair-weight", default="noise", choices=["noise", "posterior"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (fit-time target: 2 cores)")
    ap.add_argument(
        "--tuning", default="", help="label: only the runs, as rows of the measure-tuning section"
    )
    ap.add_argument("--max-seconds", type=float, default=200.0)
    ap.add_argument("--data", type=Path, default=SHARED_DATA)
    ap.add_argument("--no-bias", action="store_true", help="skip the truncation-order bias table")
    ap.add_argument("--exact-one-way", action="store_true", help="diagnostic: exact 1-ways, noisy pairs")
    ap.add_argument(
        "--exact-pairs", action="store_true", help="diagnostic: noisy 1-ways, exact uncapped pairs"
    )
    ap.add_argument("--tag", default="")
    ap.add_argument("--shares", default=None, help="e.g. row_cap=0.04,one_way=0.5,pairs=0.33,rounds=0.13")
    ap.add_argument("--scale-codes", type=int, default=0, help="only time the engine on a generated table")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    if args.scale_codes:
        _scale_main(args)
        return
    df, holdout = load(
        args.data / "diabetes130" / "diabetic_data_dev.csv.gz", args.rows, args.codes, args.seed
    )
    config = MeasureConfig(
        fit=QueryFitConfig(
            batch=args.batch,
            steps=args.steps,
            lr=args.lr,
            resample_every=args.resample_every,
            max_seconds=args.max_seconds,
            project_pairs=not args.no_project,
            shrink=args.shrink,
            spectral=args.spectral,
            pair_weight=args.pair_weight,
        ),
        round_steps=max(args.steps // 5, 1),
        truncation=args.truncation,
    )
    out: dict[str, Any] = {"environment": environment(), "args": {k: str(v) for k, v in vars(args).items()}}
    if args.tuning:
        _tuning(df, holdout, config, args)
        return
    out["independent"] = workload(df, independent(df, len(df), args.seed), args.seed)
    out["real_holdout"] = workload(df, holdout, args.seed)
    out["real_holdout"]["auroc"] = dimwise_auroc(df, holdout)
    out["independent"]["auroc"] = dimwise_auroc(independent(df, len(df), args.seed), holdout)
    print("independent", out["independent"], "\nreal holdout", out["real_holdout"], flush=True)
    if not args.no_bias:
        tr = TableTransformer(Schema.infer(df))
        ind = IndicatorLayout.from_layout(tr.layout)
        X = tr.encode(df)
        per_row = free_ones_per_row(indicator_matrix(X, ind), ind)
        cap = int(np.quantile(per_row, 0.9))
        out["ones_per_row"] = {q: float(np.quantile(per_row, q)) for q in (0.5, 0.9, 0.95, 0.99)}
        out["truncation_bias"] = {"cap": cap, **truncation_bias(X, ind, cap, args.seed)}
        print("truncation", out["truncation_bias"], flush=True)
    out["runs"] = []
    for e in args.epsilons:
        eps = None if e == "none" else float(e)
        r = run(df, holdout, eps, args.seed, config, args)
        out["runs"].append(r)
        print({k: v for k, v in r.items() if k != "rounds"}, flush=True)
    path = save_json(f"measure{args.tag}", out)
    print("saved", path)
    update_section(f"measure{args.tag}", _markdown(out, args, len(df)))


if __name__ == "__main__":
    main()
