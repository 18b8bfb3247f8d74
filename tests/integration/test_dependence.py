"""medGAN must learn dependence between codes, not only prevalences (the marginal calibration fixes those)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ehrsynth import MedGAN, Schema
from ehrsynth.estimator import NoPrivacyWarning


def block_table(n: int, seed: int) -> pd.DataFrame:
    """Four latent classes, each switching on its own block of 10 codes (within-block corr ≈ 0.42)."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 4, n)
    p = np.full((4, 40), 0.03)
    for c in range(4):
        p[c, c * 10 : (c + 1) * 10] = 0.6
    return pd.DataFrame((rng.random((n, 40)) < p[z]).astype("int64"), columns=[f"dx_{i}" for i in range(40)])


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])  # seed 1: make test-slow
def test_non_dp_medgan_learns_block_structure(seed: int) -> None:
    df = block_table(5000, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        model = MedGAN(epsilon=None, engine="dpsgd", epochs=50, ae_epochs=20, random_state=seed, device="cpu")
        model.fit(df, schema=Schema.infer(df))
    synth = model.sample(10_000, random_state=seed).to_numpy(float)
    real_c, syn_c = np.corrcoef(df.to_numpy(float).T), np.corrcoef(synth.T)
    iu = np.triu_indices(40, 1)
    r = np.corrcoef(real_c[iu], syn_c[iu])[0, 1]
    assert r > 0.45  # measured 0.71 / 0.61 for seeds 0 / 1; 0.17 with the reference's D-step BatchNorm mode
    within = np.mean([syn_c[b * 10, b * 10 + 1 : (b + 1) * 10].mean() for b in range(4)])
    assert within > 0.25  # real ≈ 0.42; a generator that mixes the blocks gives ≈ 0
