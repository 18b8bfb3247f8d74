"""CUDA paths (`make test-gpu`): the same fits on a GPU, checked against their contracts. Skipped without CUDA."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from ehrsynth import MedGAN
from ehrsynth.estimator import NoPrivacyWarning
from ehrsynth.imaging import ImageGAN

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_medgan_dp_fit_and_sample_on_cuda() -> None:
    from support import make_table

    df = make_table(400)
    model = MedGAN(epsilon=3.0, epochs=2, ae_epochs=1, device="cuda", random_state=0).fit(df)
    assert next(model.generator_.parameters()).is_cuda
    assert model.privacy_.epsilon_spent <= 3.0
    synth = model.sample(1000, random_state=1)
    assert list(synth.columns) == list(df.columns) and len(synth) == 1000


@pytest.mark.parametrize("epsilon", [None, 8.0])
def test_image_gan_fit_and_sample_on_cuda(epsilon: float | None) -> None:
    rng = np.random.default_rng(0)
    labels = np.arange(128) % 2
    images = rng.integers(0, 255, size=(128, 28, 28)).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        model = ImageGAN(epsilon=epsilon, epochs=1, batch_size=32, device="cuda", random_state=0)
        model.fit(images, labels)
    out, out_labels = model.sample(16, random_state=1)
    assert out.shape == (16, 28, 28) and out.dtype == np.uint8
    assert set(np.unique(out_labels)) <= {0, 1}
