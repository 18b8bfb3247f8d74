"""MedGAN(engine="measure") end to end: the 1-way release plus the engine's releases in one budget, planted
dependence learnt at ε = 3, privacy.json recomputed by an independent accountant, save/load/sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pld
import pytest

import ehrsynth
from ehrsynth import MedGAN


def two_blocks(n: int, seed: int) -> pd.DataFrame:
    """Two latent groups; each switches on its own block of 6 codes (p 0.6 inside, 0.03 outside)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2, n)
    p = np.full((2, 12), 0.03)
    p[0, :6] = p[1, 6:] = 0.6
    df = pd.DataFrame((rng.random((n, 12)) < p[g]).astype("int64"), columns=[f"dx_{i}" for i in range(12)])
    df["sex"] = rng.choice(["F", "M"], n)
    return df


def _within_block_corr(df: pd.DataFrame) -> float:
    codes = df[[f"dx_{i}" for i in range(12)]].astype(float)
    c = np.corrcoef(codes.to_numpy().T)
    return float(np.mean([c[i, j] for i in range(6) for j in range(6) if i != j]))


def test_measure_engine_learns_planted_dependence_in_one_budget(tmp_path: Path) -> None:
    real = two_blocks(4000, 0)
    model = MedGAN(epsilon=3.0, engine="measure", query_steps=300, random_state=0).fit(real)
    names = [m.name for m in model.privacy_.mechanisms]
    assert names[:2] == ["marginals:row-bound", "marginals:1-way"]
    assert not {"autoencoder", "discriminator"} & set(names)  # no DP-SGD in this engine
    assert any("pair" in n for n in names)
    # at most the budget; rounds the stopping rule skips leave their share unspent
    assert 2.0 < model.privacy_.epsilon_spent <= 3.0 * 1.005
    out = model.sample(4000, random_state=1)
    assert (
        _within_block_corr(out) > 0.2 > _within_block_corr(real.apply(np.random.default_rng(2).permutation))
    )
    # an independent accountant recomputes the composed epsilon from privacy.json
    record = model.privacy_.to_dict()
    assert pld.pld_epsilon(record) == pytest.approx(record["epsilon_spent"], rel=0.03)
    model.save(str(tmp_path / "m"))
    loaded = ehrsynth.load(str(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.sample(30, random_state=3), model.sample(30, random_state=3))


def test_measure_engine_without_dp_uses_exact_statistics() -> None:
    real = two_blocks(1500, 1)
    with pytest.warns(ehrsynth.errors.NoPrivacyWarning):
        model = MedGAN(epsilon=None, engine="measure", query_steps=300, random_state=0).fit(real)
    assert model.privacy_.mechanisms == []
    assert _within_block_corr(model.sample(3000, random_state=0)) > 0.3


def test_measure_is_the_default_engine_on_every_entry_point() -> None:
    import argparse

    from ehrsynth.cli._common import add_training_options, model_kwargs

    assert MedGAN().engine == "measure"
    parser = argparse.ArgumentParser()
    add_training_options(parser)
    args = parser.parse_args([])
    assert "engine" not in model_kwargs(args)  # the CLI leaves the choice to the library's default
    assert model_kwargs(parser.parse_args(["--engine", "dpsgd", "--query-steps", "9"]))["query_steps"] == 9


def test_the_one_way_share_defaults_per_engine() -> None:
    """marginal_share=None: 45 % of ε for the measure engine's 1-way release (RESULTS.md measure-tuning), 30 %
    for dpsgd and hybrid; an explicit share still wins."""
    from ehrsynth.training.medgan_parts import DEFAULT_MARGINAL_SHARE

    assert DEFAULT_MARGINAL_SHARE == {"measure": 0.45, "dpsgd": 0.3, "hybrid": 0.3}
    real = two_blocks(800, 2)

    def one_way_noise(**kw: float) -> float:
        model = MedGAN(epsilon=1.0, engine="measure", query_steps=5, random_state=0, **kw).fit(real)
        return next(m.noise_multiplier for m in model.privacy_.mechanisms if m.name == "marginals:1-way")

    default = one_way_noise()
    assert default == pytest.approx(one_way_noise(marginal_share=0.45))
    assert default < one_way_noise(marginal_share=0.3)  # more of ε: less noise on the 1-ways


def test_query_steps_sets_the_fit_length_and_a_checkpoint_dir_is_ignored_with_a_warning(
    tmp_path: Path,
) -> None:
    df = two_blocks(300, seed=2)
    with pytest.warns(UserWarning, match="engine 'measure' does not write checkpoints"):
        model = MedGAN(epsilon=3.0, query_steps=7, checkpoint_dir=str(tmp_path / "ck"), random_state=0).fit(
            df
        )
    fit = model.history_["measure"]
    assert fit[-1]["step"] == 6.0  # steps 0..6
    assert not (tmp_path / "ck" / "checkpoint.json").exists()
    with pytest.raises(ehrsynth.errors.InvalidParameterError, match="query_steps"):
        MedGAN(query_steps=0).fit(df)
