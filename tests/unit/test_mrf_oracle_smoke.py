"""Smoke test of benchmarks/mrf_oracle.py (the non-DP MRF diagnostic) on a generated table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "baselines"))

import mrf_oracle as mo  # noqa: E402
from tabular import infer_schema  # noqa: E402


def _frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = (rng.random(n) < 0.4).astype(np.int64)
    df = pd.DataFrame(
        {
            "dx_a": a,
            "dx_b": np.where(rng.random(n) < 0.85, a, 1 - a),  # strongly tied to dx_a
            "race": np.array(["A", "B", None], dtype=object)[rng.integers(0, 3, size=n)],
            "age": rng.integers(18, 90, size=n).astype(float),
        }
    )
    df.loc[:29, "age"] = np.nan
    return df


def test_mrf_oracle_fits_samples_and_decodes_a_pair_dependence() -> None:
    torch.set_num_threads(1)
    df = _frame()
    x, blocks = mo.encode(df, infer_schema(df))
    assert [b.kind for b in blocks] == ["bin", "bin", "cat", "num"]
    assert torch.equal(x[:, 2:].sum(1), torch.full((len(df),), 2.0))  # one active unit per one-hot column
    m1, m2 = mo.target_moments(x, 0.0, np.random.default_rng(1))
    args = argparse.Namespace(seed=0, chains=500, lr=0.05, iters=60)
    h, j, chains, _ = mo.fit_pcd(m1, m2, blocks, args, 0.0)
    synth = mo.decode(mo.sample(chains, h, j, blocks, len(df), 0), blocks, df, np.random.default_rng(2))
    assert list(synth.columns) == list(df.columns) and len(synth) == len(df)
    assert synth["dx_a"].dtype == df["dx_a"].dtype
    assert synth["age"].dropna().isin(df["age"].dropna()).all()  # numbers are real values in their bin
    assert abs(synth["dx_a"].mean() - df["dx_a"].mean()) < 0.06
    assert np.corrcoef(synth["dx_a"], synth["dx_b"])[0, 1] > 0.35  # the coupling was learnt (real ≈ 0.7)
