"""A fit that raises leaves the estimator as it was; checkpoints never resume on other data."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import torch
from support import FAST, make_table

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.errors import ModelDirError, NoPrivacyWarning, NotFittedError, PrivacyBudgetError
from ehrsynth.training.progress import ProgressEvent


class Interrupt(Exception):
    pass


def _stop_in_gan(event: ProgressEvent) -> None:
    """Interrupt the main training phase of any engine (dpsgd/hybrid: the GAN; measure: the query fit)."""
    if event.phase in ("gan", "query fit") and event.step >= 1:
        raise Interrupt


def test_failed_first_fit_leaves_model_unfitted(table: pd.DataFrame, tmp_path) -> None:
    model = MedGAN(epsilon=1e-4, epochs=50, random_state=0)
    with pytest.raises(PrivacyBudgetError, match="smallest feasible"):  # raised after the modules are built
        model.fit(table, schema=ehrsynth.Schema.infer(table))
    assert not [k for k in vars(model) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        model.sample(3)
    with pytest.raises(NotFittedError):
        model.save(str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def test_failed_refit_keeps_the_previous_fit(table: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        model = MedGAN(epsilon=None, random_state=0, **FAST).fit(table)
        before = dict(vars(model))
        weights = {k: v.clone() for k, v in model.generator_.state_dict().items()}
        expected = model.sample(20, random_state=1)
        model.set_params(progress=_stop_in_gan, random_state=1)
        with pytest.raises(Interrupt):
            model.fit(make_table(400, seed=5))
    for key, value in before.items():
        if key.endswith("_"):
            assert getattr(model, key) is value, key
    for key, value in model.generator_.state_dict().items():
        assert torch.equal(value, weights[key]), key
    pd.testing.assert_frame_equal(model.sample(20, random_state=1), expected)


def test_checkpoint_of_other_data_of_the_same_size_is_refused(tmp_path) -> None:
    settings = {
        "engine": "dpsgd",
        "epsilon": 2.0,
        "epochs": 3,
        "ae_epochs": 1,
        "bn_burn_in_batches": 2,
        "checkpoint_every": 2,
    }
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        MedGAN(random_state=0, checkpoint_dir=str(ckpt), progress=_stop_in_gan_late, **settings).fit(
            make_table(2000, seed=0)
        )
    assert (ckpt / "checkpoint.json").is_file()
    other = make_table(2000, seed=1)  # same size, same columns, other values
    with pytest.raises(ModelDirError, match="other settings or data"):
        MedGAN(random_state=0, checkpoint_dir=str(ckpt), **settings).fit(other)


def _stop_in_gan_late(event: ProgressEvent) -> None:
    if event.phase == "gan" and event.step >= 4:
        raise Interrupt
