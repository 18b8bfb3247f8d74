"""ImageGAN: a class-conditional DCGAN-family image generator, scikit-learn style, optionally DP.

It is trained by the same :class:`~ehrsynth.training.adversarial.AdversarialTrainer` as the tabular medGAN,
with the same DP wiring (Opacus ghost clipping on the discriminator, one noisy step on real + fake), noise
calibration (:func:`ehrsynth.dp.calibration.calibrate_noise`), ``privacy.json`` record, checkpoint/resume and
model-directory code. See :mod:`ehrsynth.imaging.fit` for the procedure and the DP argument.

Parameters: epsilon (default 10; ``None`` = no DP, no guarantee), delta (default ``min(1e-5, 1/(10 n))``),
accountant ('prv' | 'rdp'), classes (the public label set; ``None``: all labels present without DP, or
discovered with a DP thresholded release under DP, costing ``domain_share`` of ε), max_grad_norm (DP-SGD
clipping), image_size (internal size: 28, 32, 56, 64, 112 or 128; ``None`` = nearest to the data's),
latent_dim, width (channels of the first D layer / last G layer), spectral_norm (D, non-DP only), epochs
(passes of the discriminator over the data; default 40 without DP, 20 with), batch_size (default 64; under DP
the expected Poisson batch, default 5% of the images in [64, 512]), d_steps, lr, beta1, weight_decay, device
('auto' | 'cpu' | 'cuda[:N]'), accelerate (bf16 autocast + channels_last: 'auto' = on CUDA, 'on', 'off'; see
:mod:`ehrsynth.imaging.accel`), random_state, verbose, progress, checkpoint_dir, checkpoint_every.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from ehrsynth.dp.accounting import PrivacyRecord
from ehrsynth.errors import InvalidParameterError, NotFittedError
from ehrsynth.imaging.accel import Accel
from ehrsynth.imaging.layout import ImageLayout, to_user
from ehrsynth.imaging.models import ConditionalGenerator
from ehrsynth.params import ParamsMixin
from ehrsynth.training.progress import ProgressCallback, TqdmProgress

logger = logging.getLogger(__name__)

SAMPLE_BATCH = 1024


class ImageGAN(ParamsMixin):
    """Class-conditional image GAN (conditional DCGAN generator, projection discriminator with GroupNorm)."""

    classes_: np.ndarray
    layout_: ImageLayout
    image_size_: int
    generator_: ConditionalGenerator
    privacy_: PrivacyRecord
    history_: dict[str, list[dict[str, float]]]
    schedule_: dict[str, Any]
    n_samples_seen_: int

    def __init__(
        self,
        *,
        epsilon: float | None = 10.0,
        delta: float | None = None,
        accountant: str = "prv",
        classes: list[Any] | None = None,
        domain_share: float = 0.1,
        max_grad_norm: float = 1.0,
        image_size: int | None = None,
        latent_dim: int = 64,
        width: int = 32,
        spectral_norm: bool = False,
        augment: str = "translation",
        ema_decay: float | None = 0.999,
        epochs: int | None = None,
        batch_size: int | None = None,
        d_steps: int = 1,
        lr: float = 2e-4,
        beta1: float = 0.5,
        weight_decay: float = 0.0,
        device: str = "auto",
        accelerate: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
        progress: ProgressCallback | None = None,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 200,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.accountant = accountant
        self.classes = classes
        self.domain_share = domain_share
        self.max_grad_norm = max_grad_norm
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.width = width
        self.spectral_norm = spectral_norm
        self.augment = augment
        self.ema_decay = ema_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.d_steps = d_steps
        self.lr = lr
        self.beta1 = beta1
        self.weight_decay = weight_decay
        self.device = device
        self.accelerate = accelerate
        self.random_state = random_state
        self.verbose = verbose
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    # -- scikit-learn plumbing ---------------------------------------------------------------------------

    def _progress(self) -> ProgressCallback | None:
        if self.progress is not None:
            return self.progress
        return TqdmProgress() if self.verbose else None

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise NotFittedError(
                "this ImageGAN is not fitted yet; call fit(images, labels) or load a model dir"
            )

    # -- fit -----------------------------------------------------------------------------------------------
    def fit(self, images: Any, labels: Any) -> ImageGAN:
        """Fit on ``images`` (uint8 (N, H, W) grayscale or (N, H, W, 3) RGB, square) with class ``labels``
        ((N,) or (N, 1), integers or strings)."""
        from ehrsynth.imaging.fit import fit_image_gan

        fit_image_gan(self, images, labels)
        return self

    def _build_generator(self, n_classes: int, channels: int, size: int) -> ConditionalGenerator:
        return ConditionalGenerator(
            n_classes=n_classes,
            channels=channels,
            image_size=size,
            latent_dim=self.latent_dim,
            width=self.width,
        )

    # -- sample --------------------------------------------------------------------------------------------
    def _label_indices(self, n: int, label: Any) -> np.ndarray:
        k = len(self.classes_)
        if label is None:  # balanced: class i gets n // k images, the first n % k classes one more
            return np.repeat(np.arange(k), [n // k + (i < n % k) for i in range(k)])
        matches = [i for i, c in enumerate(self.classes_.tolist()) if c == label or str(c) == str(label)]
        if not matches:
            raise InvalidParameterError(
                f"label {label!r} is not one of the model's classes {self.classes_.tolist()}"
            )
        return np.full(n, matches[0])

    @torch.no_grad()
    def sample(
        self, n: int, label: Any = None, random_state: int | np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` synthetic images (uint8, in the training images' layout and size) and their labels;
        ``label=None`` gives every class equally often (in class order). Post-processing: spends no budget."""
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidParameterError(f"n must be a positive integer, found {n!r}")
        index = self._label_indices(int(n), label)
        rng = np.random.default_rng(random_state)
        tgen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        gen = self.generator_.eval()
        device = next(gen.parameters()).device
        accel = Accel.resolve(self.accelerate, device, private=False)
        parts = []
        for start in range(0, n, SAMPLE_BATCH):
            y = torch.from_numpy(index[start : start + SAMPLE_BATCH]).to(device)
            z = torch.randn(y.shape[0], self.latent_dim, generator=tgen).to(device)
            with accel.context():
                x = gen(z, y)
            parts.append(to_user(x, self.layout_))
        return np.concatenate(parts), self.classes_[index]

    # -- persistence ---------------------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Write a model directory (config, privacy.json, generator weights, manifest). The discriminator is
        not saved: only the generator is needed to sample, and a non-DP discriminator is a membership oracle."""
        from ehrsynth.imaging.persist import save_image_gan

        self._check_fitted()
        save_image_gan(self, path)
