"""MedGAN(engine="hybrid") end to end: the 1-way release, the cap and pair measurements and the DP-SGD phases
in one budget (recomputed from privacy.json by an independent accountant), save/load/sample, the budget
split, the query loss, exact statistics without DP, and parameter validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pld
import pytest
import torch

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.dp.accounting import compute_epsilon
from ehrsynth.dp.budget import DPConfig
from ehrsynth.errors import InvalidParameterError

CODES = [f"dx_{i}" for i in range(12)]


def two_blocks(n: int, seed: int) -> pd.DataFrame:
    """Two latent groups; each switches on its own block of 6 codes (p 0.6 inside, 0.03 outside)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2, n)
    p = np.full((2, 12), 0.03)
    p[0, :6] = p[1, 6:] = 0.6
    df = pd.DataFrame((rng.random((n, 12)) < p[g]).astype("int64"), columns=CODES)
    df["sex"] = rng.choice(["F", "M"], n)
    return df


def _within_block_corr(df: pd.DataFrame) -> float:
    c = np.corrcoef(df[CODES].astype(float).to_numpy().T)
    return float(np.mean([c[i, j] for i in range(6) for j in range(6) if i != j]))


def test_hybrid_engine_spends_one_budget_on_pairs_and_dp_sgd(tmp_path: Path) -> None:
    real = two_blocks(1000, 0)
    model = MedGAN(epsilon=1.0, engine="hybrid", epochs=2, ae_epochs=1, bn_burn_in_batches=2, random_state=0)
    model.fit(real)
    names = [m.name for m in model.privacy_.mechanisms]
    assert names[:2] == ["marginals:row-bound", "marginals:1-way"]
    assert names[-2:] == ["autoencoder", "discriminator"] and "measure:row_cap" in names
    assert names[names.index("measure:row_cap") + 1 : -2] == ["measure:pairs:free", "measure:pairs:mixed"]
    assert 1.0 * 0.99 <= model.privacy_.epsilon_spent <= 1.0 * 1.005
    model.save(str(tmp_path / "m"))
    record = json.loads((tmp_path / "m" / "privacy.json").read_text())
    assert {m["type"] for m in record["mechanisms"]} == {"gaussian", "poisson_gaussian"}
    assert pld.pld_epsilon(record) == pytest.approx(record["epsilon_spent"], rel=0.03)
    loaded = ehrsynth.load(str(tmp_path / "m"))
    assert loaded.engine == "hybrid" and loaded.privacy_.to_dict() == model.privacy_.to_dict()
    pd.testing.assert_frame_equal(loaded.sample(30, random_state=3), model.sample(30, random_state=3))


@pytest.mark.slow
def test_hybrid_engine_learns_planted_dependence_at_epsilon_3() -> None:
    real = two_blocks(2000, 0)
    model = MedGAN(epsilon=3.0, engine="hybrid", epochs=10, ae_epochs=2, random_state=0).fit(real)
    assert model.privacy_.epsilon_spent <= 3.0 * 1.005
    out = model.sample(3000, random_state=1)
    assert list(out.columns) == list(real.columns)
    shuffled = real.apply(np.random.default_rng(2).permutation)
    assert _within_block_corr(out) > 0.2 > _within_block_corr(shuffled)  # measured 0.42 (real 0.49)


def test_hybrid_engine_without_dp_uses_exact_statistics(tmp_path: Path) -> None:
    real = two_blocks(1000, 1)
    ckpt = tmp_path / "ckpt"
    with pytest.warns(UserWarning, match="does not write checkpoints"):
        model = MedGAN(
            epsilon=None, engine="hybrid", epochs=20, ae_epochs=2, random_state=0, checkpoint_dir=str(ckpt)
        ).fit(real)
    assert not ckpt.exists() or not any(ckpt.iterdir())
    assert model.privacy_.mechanisms == []
    out = model.sample(500, random_state=0)
    assert out.shape == (500, real.shape[1]) and set(np.unique(out[CODES])) <= {0, 1}


def test_measurements_spend_their_share_of_the_budget_left_after_the_one_way_release() -> None:
    from ehrsynth.dp.accounting import Gaussian
    from ehrsynth.training.medgan_hybrid import plan_measurements

    dp = DPConfig(epsilon=2.0, delta=1e-6, accountant="prv")
    fixed = [Gaussian("marginals:1-way", 4.0)]
    eps1 = compute_epsilon(fixed, dp.delta, accountant="prv")
    for share in (0.3, 0.5):
        plan = plan_measurements(dp, fixed, share)
        assert plan.rounds == 0 and plan.pairs is not None and plan.row_cap is not None
        target = eps1 + share * (2.0 - eps1)
        assert target * 0.99 <= plan.epsilon_spent <= target  # composed, not added: the rest is DP-SGD's
    assert plan_measurements(None, [], 0.5).private is False


def test_query_loss_fits_the_data_not_independent_columns() -> None:
    """The generator-loss term, fed the exact 0/1 matrix as 'probabilities': its pair error is ~0 on the data
    itself and large once the columns are shuffled (dependence broken, 1-ways kept); its value is λ (the
    gradient is λ · ∇log L) and it has a gradient."""
    from ehrsynth.schema import Schema
    from ehrsynth.training.medgan_hybrid import measure_queries, plan_measurements, query_loss
    from ehrsynth.training.medgan_parts import Architecture, build_modules
    from ehrsynth.transforms.marginals import exact_marginals

    real = two_blocks(2000, 3)
    schema = exact_marginals(Schema.infer(real), real)
    modules = build_modules(schema, Architecture("auto", 16, (16,), (16,), False))
    X = modules.transformer.encode(real)
    measured = measure_queries(
        modules, X, plan=plan_measurements(None, [], 0.5), count_sd=0.0, rng=np.random.default_rng(0)
    )
    assert measured.mechanisms == [] and measured.cap == int(real[CODES].sum(axis=1).max())
    loss = query_loss(measured, torch.device("cpu"), weight=10.0)
    assert loss is not None and query_loss(measured, torch.device("cpu"), weight=0.0) is None
    loss(torch.as_tensor(X, dtype=torch.float32))
    own_rmse = loss.last["rmse_pairs"]  # type: ignore[attr-defined]
    shuffled = real.apply(np.random.default_rng(4).permutation)
    other = torch.tensor(modules.transformer.encode(shuffled), dtype=torch.float32, requires_grad=True)
    value = loss(other)
    value.backward()
    assert own_rmse < 1e-4 and loss.last["rmse_pairs"] > 0.05  # type: ignore[attr-defined]
    assert float(value) == pytest.approx(10.0) and other.grad is not None and other.grad.abs().sum() > 0


@pytest.mark.parametrize("engine", ["gan", "Hybrid", ""])
def test_unknown_engines_are_rejected_with_all_three_listed(engine: str) -> None:
    with pytest.raises(InvalidParameterError) as exc:
        MedGAN(engine=engine).fit(two_blocks(200, 0))
    message = str(exc.value)
    assert "engine" in message and all(name in message for name in ("'dpsgd'", "'measure'", "'hybrid'"))


@pytest.mark.parametrize(("share", "weight"), [(0.0, 1.0), (1.0, 1.0), (0.5, -1.0)])
def test_hybrid_settings_out_of_range_are_refused(share: float, weight: float) -> None:
    from dataclasses import replace

    from ehrsynth.training.medgan_hybrid import check_settings
    from ehrsynth.training.medgan_parts import MedGANConfig

    config = MedGAN(engine="hybrid")._config(1000)
    assert isinstance(config, MedGANConfig)
    with pytest.raises(InvalidParameterError, match="hybrid_"):
        check_settings(replace(config, hybrid_measure_share=share, hybrid_query_weight=weight))
