"""MRF oracle (issue 12): how far a pairwise model fitted to 1-way + pair frequencies gets, with and without noise.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/mrf_oracle.py --sigmas 0 36 --l2 0.003
    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/mrf_oracle.py --sigmas 36 --l2 0 0.003 0.01

What it measures: a pairwise Markov random field (Potts/Ising over the one-hot indicator encoding of the
table: a binary code is one unit, a categorical column one unit per value with missing its own value, a
number with more than 16 distinct values 10 quantile bins) is fitted by persistent contrastive divergence
(``--chains`` Gibbs chains, one block sweep per step, Adam, ``--iters`` steps, L2 ``--l2`` on the couplings)
to the training table's exact 1-way frequencies and its pair frequencies plus Gaussian noise of standard
deviation ``--sigmas`` counts on every pair. It then samples as many rows as the training table and scores
them like ``fidelity_bench.score``: mean dimension-wise AUROC over the top-50 codes and TSTR AUROC on
``readmitted`` (``ehrsynth.evaluation.evaluate`` on the 20 % holdout) and mean 1/2/3-way TVD against train
(``ehrsynth.evaluation.workload.workload_error``).

Why: the default ``measure`` engine fits the medGAN generator+decoder to DP-noised 1-way and all-pairs
frequencies. A model that is exactly the maximum-entropy distribution of those statistics separates the two
limits: with ``sigma = 0`` it shows what 1-way + pairs can give at all (model capacity), and with the
engine's ε = 1 pair noise (about 36 counts) what the noise leaves.

NOT a DP mechanism: the 1-way frequencies are exact, rows are not capped, numbers are decoded by drawing a
real training value inside the sampled bin, and nothing is charged to a privacy budget. It is a diagnostic
only; its synthetic tables are scored and discarded, never written.

Data: Strack B. et al. (2014) BioMed Research International 781670; UCI ML Repository id 296, CC BY 4.0. Read
in place from ../shared/data (or --data-dir) through ``fidelity_bench.load_table``; nothing derived from it
is written to the repository (only the scores below, in benchmarks/results/ and benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "baselines"))

import fidelity_bench as fb  # noqa: E402
from _results import SHARED_DATA, environment, save_json, update_section  # noqa: E402
from tabular import infer_schema  # noqa: E402

NUMERIC_BINS = 10
MIN_NUMERIC_DISTINCT = 17  # numbers with fewer distinct values are one-hot like categories
BURN_IN_SWEEPS = 50
THIN_SWEEPS = 20
MISSING = "__nan__"


@dataclass(frozen=True)
class Block:
    """One column's units [start, stop) in the indicator encoding and how to decode them."""

    name: str
    start: int
    stop: int
    kind: str  # "bin" (one 0/1 unit), "cat" (one-hot values), "num" (one-hot quantile bins [+ missing])
    values: tuple[Any, ...] = ()  # "cat": the value of each unit (MISSING for missing)
    edges: np.ndarray = field(default_factory=lambda: np.empty(0))  # "num": the quantile bin edges
    sorted_values: np.ndarray = field(default_factory=lambda: np.empty(0))  # "num": decoded by drawing one


def encode(train: pd.DataFrame, schema: dict[str, dict[str, Any]]) -> tuple[torch.Tensor, list[Block]]:
    """The indicator matrix (rows × units) of ``train`` and its column blocks."""
    mats: list[np.ndarray] = []
    blocks: list[Block] = []
    start = 0
    for name in train.columns:
        col = train[name]
        if schema[name]["kind"] == "binary" and not col.isna().any():
            mat, block = col.to_numpy(float)[:, None], Block(name, start, start + 1, "bin")
        elif pd.api.types.is_numeric_dtype(col) and col.nunique() >= MIN_NUMERIC_DISTINCT:
            mat, block = _numeric_units(col, name, start)
        else:
            filled = col.astype(object).where(col.notna(), MISSING)
            values = tuple(sorted(pd.unique(filled), key=str))
            mat = np.stack([(filled == v).to_numpy(float) for v in values], 1)
            block = Block(name, start, start + len(values), "cat", values=values)
        mats.append(mat)
        blocks.append(block)
        start = block.stop
    return torch.tensor(np.concatenate(mats, 1), dtype=torch.float32), blocks


def _numeric_units(col: pd.Series, name: str, start: int) -> tuple[np.ndarray, Block]:
    observed = col.dropna().to_numpy(float)
    edges = np.unique(np.quantile(observed, np.linspace(0, 1, NUMERIC_BINS + 1)))
    k = len(edges) - 1
    missing = bool(col.isna().any())
    mat = np.zeros((len(col), k + int(missing)))
    present = col.notna().to_numpy()
    bins = np.clip(np.searchsorted(edges, col.to_numpy(float)[present], side="right") - 1, 0, k - 1)
    mat[np.flatnonzero(present), bins] = 1
    if missing:
        mat[~present, k] = 1
    block = Block(name, start, start + mat.shape[1], "num", edges=edges, sorted_values=np.sort(observed))
    return mat, block


def target_moments(
    x: torch.Tensor, sigma: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact 1-way frequencies and pair frequencies with N(0, sigma²) counts added to every pair."""
    n, units = x.shape
    m1 = x.mean(0)
    m2 = (x.T @ x) / n
    if sigma > 0:
        noise = torch.triu(torch.tensor(rng.normal(0, sigma / n, (units, units)), dtype=torch.float32), 1)
        m2 = m2 + noise + noise.T
    return m1, m2


def coupling_mask(blocks: list[Block], units: int) -> torch.Tensor:
    """1 between units of different columns, 0 within a column (its units are exclusive)."""
    mask = torch.ones(units, units)
    for b in blocks:
        mask[b.start : b.stop, b.start : b.stop] = 0
    return mask


def initial_fields(m1: torch.Tensor, blocks: list[Block]) -> torch.Tensor:
    """The independent model: logit for a binary unit, log frequency for a one-hot block."""
    p = m1.clamp(1e-4, 1 - 1e-4)
    h = torch.log(p / (1 - p))
    for b in blocks:
        if b.kind != "bin":
            h[b.start : b.stop] = torch.log(m1[b.start : b.stop].clamp(1e-5))
    return h


def initial_chains(m1: torch.Tensor, blocks: list[Block], chains: int, g: torch.Generator) -> torch.Tensor:
    """Chains started from independent draws of the 1-way frequencies (no data rows)."""
    s = torch.zeros(chains, len(m1))
    rows = torch.arange(chains)
    for b in blocks:
        if b.kind == "bin":
            s[:, b.start] = (torch.rand(chains, generator=g) < m1[b.start]).float()
        else:
            p = m1[b.start : b.stop]
            s[rows, b.start + torch.multinomial(p / p.sum(), chains, replacement=True, generator=g)] = 1
    return s


def sweep(
    s: torch.Tensor, h: torch.Tensor, j: torch.Tensor, blocks: list[Block], g: torch.Generator
) -> torch.Tensor:
    """One Gibbs sweep over the column blocks, in place; ``j`` is zero within a block."""
    field = s @ j
    rows = torch.arange(len(s))
    for b in blocks:
        logits = h[b.start : b.stop] + field[:, b.start : b.stop]
        old = s[:, b.start : b.stop].clone()
        if b.kind == "bin":
            new = (torch.rand(len(s), 1, generator=g) < torch.sigmoid(logits)).float()
        else:
            pick = torch.multinomial(torch.softmax(logits, 1), 1, generator=g).squeeze(1)
            new = torch.zeros_like(old)
            new[rows, pick] = 1
        delta = new - old
        if bool(delta.any()):
            field += delta @ j[b.start : b.stop, :]
        s[:, b.start : b.stop] = new
    return s


def fit_pcd(
    m1: torch.Tensor, m2: torch.Tensor, blocks: list[Block], args: argparse.Namespace, l2: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """(fields, couplings, chains, last max pair gap) after ``args.iters`` PCD steps."""
    g = torch.Generator().manual_seed(args.seed)
    mask = coupling_mask(blocks, len(m1))
    h = initial_fields(m1, blocks)
    j = torch.zeros(len(m1), len(m1))
    s = initial_chains(m1, blocks, args.chains, g)
    opt = torch.optim.Adam([h, j], lr=args.lr)
    start, gap = time.perf_counter(), float("nan")
    for it in range(args.iters):
        s = sweep(s, h, j, blocks, g)
        mm1, mm2 = s.mean(0), (s.T @ s) / len(s)
        h.grad = mm1 - m1
        j.grad = (mm2 - m2) * mask + l2 * j
        opt.step()
        j.copy_((j + j.T) / 2 * mask)
        gap = float(((m2 - mm2) * mask).abs().max())
        if it % 50 == 0 or it == args.iters - 1:
            print(f"  it {it}: max pair gap {gap:.4f}, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return h, j, s, gap


def sample(
    s: torch.Tensor, h: torch.Tensor, j: torch.Tensor, blocks: list[Block], n: int, seed: int
) -> np.ndarray:
    """``n`` indicator rows: the chains after a burn-in, then again every ``THIN_SWEEPS`` sweeps."""
    g = torch.Generator().manual_seed(seed + 1)
    for _ in range(BURN_IN_SWEEPS):
        s = sweep(s, h, j, blocks, g)
    draws = [s.clone()]
    while sum(len(d) for d in draws) < n:
        for _ in range(THIN_SWEEPS):
            s = sweep(s, h, j, blocks, g)
        draws.append(s.clone())
    return torch.cat(draws)[:n].numpy()


def decode(
    units: np.ndarray, blocks: list[Block], like: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """The table of the sampled indicator rows; a number is a real training value drawn inside its bin."""
    out: dict[str, Any] = {}
    for b in blocks:
        part = units[:, b.start : b.stop]
        if b.kind == "bin":
            out[b.name] = part[:, 0].astype(int)
        elif b.kind == "cat":
            out[b.name] = pd.Series(np.array(b.values, dtype=object)[part.argmax(1)]).replace(MISSING, np.nan)
        else:
            pick, k = part.argmax(1), len(b.edges) - 1
            inside = np.minimum(pick, k - 1)
            lo = np.searchsorted(b.sorted_values, b.edges[inside])
            hi = np.maximum(np.searchsorted(b.sorted_values, b.edges[inside + 1], side="right"), lo + 1)
            values = b.sorted_values[rng.integers(lo, hi)]
            out[b.name] = np.where(pick < k, values, np.nan)
    synth = pd.DataFrame(out)[like.columns]
    for name in like.columns:
        with contextlib.suppress(TypeError, ValueError):  # e.g. NaN in an int column: keep the sampled dtype
            synth[name] = synth[name].astype(like[name].dtype)
    return synth


def score(
    train: pd.DataFrame, test: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, Any], seed: int
) -> dict[str, Any]:
    """The scores ``fidelity_bench.score`` reports: dimension-wise and TSTR AUROC, mean 1/2/3-way TVD."""
    from ehrsynth.evaluation import evaluate
    from ehrsynth.evaluation.workload import workload_error

    rep = evaluate(
        train, test, synth, target=fb.TARGET, schema=kinds, top_k=50, random_state=seed, baselines=False
    ).to_dict()
    work = workload_error(train, synth, schema=kinds, n_triples=1000, random_state=seed).to_dict()
    pred, tstr = rep["dimension_wise_prediction"], rep.get("tstr") or {}
    return {
        "auroc_synthetic": pred["auroc_synthetic"],
        "auroc_real": pred["auroc_real"],
        "tstr_auroc_synthetic": tstr.get("auroc_synthetic"),
        "tstr_auroc_real": tstr.get("auroc_real"),
        **{k: work[k] for k in ("tvd_1way_mean", "tvd_2way_mean", "tvd_3way_mean")},
    }


def run_one(
    data: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]],
    x: torch.Tensor,
    blocks: list[Block],
    sigma: float,
    l2: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Fit the MRF to the (noised) statistics, sample a training-sized table and score it."""
    train, test, kinds = data
    m1, m2 = target_moments(x, sigma, np.random.default_rng(args.seed + 1))
    start = time.perf_counter()
    h, j, chains, gap = fit_pcd(m1, m2, blocks, args, l2)
    fit_seconds = time.perf_counter() - start
    units = sample(chains, h, j, blocks, len(train), args.seed)
    synth = decode(units, blocks, train, np.random.default_rng(args.seed + 2))
    row: dict[str, Any] = {
        "sigma": sigma,
        "l2": l2,
        "iters": args.iters,
        "chains": args.chains,
        "lr": args.lr,
    }
    row.update(score(train, test, synth, kinds, args.seed))
    row.update(fit_seconds=round(fit_seconds, 1), final_max_pair_gap=gap)
    return row


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render(result: dict[str, Any], path: Path) -> str:
    """The ``mrf-oracle`` section of RESULTS.md."""
    lines = [
        f"### MRF oracle (issue 12; NOT DP): pairwise MRF fitted to exact 1-ways + noised pairs, "
        f"diabetes dev {result['rows']:,} patients × (8 + {result['n_codes']} codes), seed {result['seed']}",
        "",
        f"`{result['command']}` ({result['date']}, load {result['environment']['load_average_1min']:.1f}; "
        f"{result['units']} indicator units; JSON: `{path.relative_to(HERE.parent)}`). "
        "σ: Gaussian noise in counts on every pair (≈36 is the measure engine's ε = 1 pair noise); "
        "L2 on the couplings; max gap: largest |data − chains| pair frequency at the last PCD step "
        "(4,000-chain estimate); fit s on one thread of 2 shared cores.",
        "",
        "| σ (counts) | L2 | dim-wise AUROC | real AUROC | TSTR AUROC | 1-way TVD | 2-way TVD | 3-way TVD "
        "| max gap | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['sigma']:g} | {r['l2']:g} | {_fmt(r['auroc_synthetic'])} | {_fmt(r['auroc_real'])} | "
            f"{_fmt(r['tstr_auroc_synthetic'])} | {_fmt(r['tvd_1way_mean'], 4)} | {_fmt(r['tvd_2way_mean'], 4)} | "
            f"{_fmt(r['tvd_3way_mean'], 4)} | {_fmt(r['final_max_pair_gap'], 3)} | {r['fit_seconds']:.0f} |"
        )
    lines += [
        "",
        "How to read it: a diagnostic that separates model capacity from noise, NOT a DP mechanism (1-ways exact,",
        "no row cap, numbers decoded from real training values). σ = 0 rows: what a model fitted to the exact",
        "1-way + pair statistics gives (up to its L2 and the PCD sampling error, see max gap); compare the medGAN",
        "query fit on exact statistics, 0.67–0.69 (measure-tuning): with no L2 the MRF reaches 0.75 (an L2 holds",
        "it back on exact statistics, and it helps under noise). σ > 0 rows: what the ε = 1 pair noise leaves even",
        "to this model, level with the measure engine's 0.615 at ε = 1 (fidelity-workload-notes) (compare",
        "the two σ at one L2). Scratch runs, not re-run here: σ = 36 with L2 0 / 1e-2 / 3e-2: 0.615 / 0.624 /",
        "0.586; empirical-Bayes-shrunk pairs 0.575–0.585; noisy re-measured spanning forests 0.597–0.600; 40k",
        "patients, σ = 36, L2 3e-3: 0.692 (real 0.799). One seed: differences below ~0.01 AUROC are noise.",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000, help="patients drawn (80%% train, 20%% test)")
    ap.add_argument("--codes", type=int, default=200, help="most prevalent ICD-9 codes kept")
    ap.add_argument("--seed", type=int, default=0, help="table draw, split, noise, chains and scoring")
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 36.0], help="pair noise, counts")
    ap.add_argument("--l2", type=float, nargs="+", default=[0.003], help="L2 penalty on the couplings")
    ap.add_argument("--iters", type=int, default=300, help="PCD steps")
    ap.add_argument("--chains", type=int, default=4000, help="persistent Gibbs chains")
    ap.add_argument("--lr", type=float, default=0.01, help="Adam learning rate")
    default_data = Path(os.environ.get("EHRSYNTH_SHARED_DATA", SHARED_DATA))
    ap.add_argument("--data-dir", type=Path, default=default_data, help="folder holding diabetes130/")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    torch.set_num_threads(1)
    df = fb.load_table(args.data_dir, args.codes, args.rows, args.seed)
    train, test = fb.split(df, args.seed)
    schema = infer_schema(df)  # declared public schema, as in fidelity_bench
    x, blocks = encode(train, schema)
    runs = []
    for sigma in args.sigmas:
        for l2 in args.l2:
            row = run_one((train, test, fb.eval_schema(schema)), x, blocks, sigma, l2, args)
            print(json.dumps(row), flush=True)
            runs.append(row)
    result: dict[str, Any] = {
        "dataset": "diabetes130-dev",
        "rows": len(df),
        "n_codes": args.codes,
        "seed": args.seed,
        "units": int(x.shape[1]),
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/mrf_oracle.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "environment": environment(),
        "runs": runs,
    }
    path = save_json("mrf-oracle", result)
    update_section("mrf-oracle", render(result, path))
    return path


if __name__ == "__main__":
    main()
