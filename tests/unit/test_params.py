"""Estimators are scikit-learn estimators whose every parameter is checked at the start of fit."""

from __future__ import annotations

import math

import pytest
from sklearn.base import clone

from ehrsynth import MedGAN
from ehrsynth.errors import InvalidParameterError, PrivacyBudgetError
from ehrsynth.imaging import ImageGAN
from ehrsynth.params import Integer, Options, Real, Sizes, validate


def test_clone_and_repr() -> None:
    model = MedGAN(epsilon=1.0, epochs=3, generator_dims=(64, 64), embedding_dim=64)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert "epochs=3" in repr(model) and "epsilon=1.0" in repr(model)
    image = clone(ImageGAN(epsilon=None, width=8))
    assert image.width == 8 and image.epsilon is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": True}, "epochs must be an integer"),
        ({"d_steps": 1.5}, "d_steps must be an integer"),
        ({"lr": math.inf}, "lr must be a finite number"),
        ({"lr": math.nan}, "lr must be a finite number"),
        ({"max_grad_norm": True}, "max_grad_norm must be a finite number"),
        ({"generator_dims": (64,)}, "generator_dims must all equal embedding_dim"),
        ({"generator_dims": ()}, "generator_dims must be a non-empty sequence"),
        ({"discriminator_dims": (0,)}, "discriminator_dims must be a non-empty sequence"),
        ({"data_type": "float"}, "data_type must be one of"),
        ({"calibrate_marginals": 1}, "calibrate_marginals must be True or False"),
        ({"random_state": 1.5}, "random_state must be an integer"),
        ({"progress": 3}, "progress must be None or a callable"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_every_parameter_is_checked_before_the_data(kwargs, match) -> None:
    # the data is None: a parameter error must come first, before anything reads the table
    with pytest.raises(InvalidParameterError, match=match):
        MedGAN(**kwargs).fit(None)


@pytest.mark.parametrize("epsilon", [0.0, -1.0, math.inf, True, "3"])
def test_bad_epsilon_is_a_budget_error_before_the_data(epsilon) -> None:
    with pytest.raises(PrivacyBudgetError, match="epsilon must be a positive"):
        MedGAN(epsilon=epsilon).fit(None)


def test_image_gan_parameters_checked_before_the_images() -> None:
    with pytest.raises(InvalidParameterError, match="latent_dim must be an integer"):
        ImageGAN(latent_dim=True).fit(None, None)
    with pytest.raises(InvalidParameterError, match="ema_decay must be a finite number"):
        ImageGAN(ema_decay=1.0).fit(None, None)


def test_validate_names_the_parameter() -> None:
    constraints = {"a": Integer(1), "b": Real(0, 1, closed="both"), "c": Options(("x",)), "d": Sizes()}
    validate({"a": 2, "b": 1.0, "c": "x", "d": [3]}, constraints)
    with pytest.raises(InvalidParameterError, match=r"b must be a finite number in \[0, 1\], found 2"):
        validate({"b": 2}, constraints)
    with pytest.raises(InvalidParameterError, match="no declared constraint"):
        validate({"zzz": 1}, constraints)
