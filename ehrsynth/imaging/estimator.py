"""ImageGAN: a class-conditional DCGAN-family image generator, scikit-learn style, optionally DP.

It is trained by the same :class:`~ehrsynth.training.adversarial.AdversarialTrainer` as the tabular medGAN,
with the same DP wiring (Opacus ghost clipping on the discriminator, one noisy step on real + fake), noise
calibration (:func:`ehrsynth.dp.calibration.calibrate_noise`), ``privacy.json`` record, checkpoint/resume and
model-directory code. See :mod:`ehrsynth.imaging.fit` for the procedure and the DP argument. Every parameter
is validated (``_constraints``) at the start of ``fit``, before the images are read.

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
import os
import warnings
from typing import Any, ClassVar

import numpy as np
import torch

from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.errors import (
    EhrsynthError,
    InvalidDataError,
    InvalidParameterError,
    ModelDirError,
    NoPrivacyWarning,
    NotFittedError,
    PrivacyBudgetError,
)
from ehrsynth.imaging.accel import MODES, Accel
from ehrsynth.imaging.augment import POLICIES
from ehrsynth.imaging.layout import ImageLayout, to_user
from ehrsynth.imaging.models import SUPPORTED_SIZES, ConditionalGenerator
from ehrsynth.io.model_dir import (
    fitted_fields,
    load_weights,
    read_config,
    read_privacy,
    verify_model_dir,
    write_model_dir,
)
from ehrsynth.params import (
    PRIVACY_CONSTRAINTS,
    RUN_CONSTRAINTS,
    RUNTIME_PARAMS,
    Boolean,
    Check,
    Constraint,
    Estimator,
    Integer,
    Options,
    Real,
    validate,
)
from ehrsynth.training.device import resolve_device
from ehrsynth.training.progress import ProgressCallback, TqdmProgress

logger = logging.getLogger(__name__)

SAMPLE_BATCH = 1024
ESTIMATOR = "ImageGAN"
MIN_IMAGES = 10
MIN_DP_IMAGES = 100
FITTED_KEYS = ("classes", "layout", "image_size", "schedule", "n_samples_seen")


def _class_list(v: Any) -> bool:
    if v is None:
        return True
    values = v.tolist() if isinstance(v, np.ndarray) else v
    return isinstance(values, (list, tuple)) and all(
        isinstance(c, (int, str, np.integer, np.str_)) and not isinstance(c, bool) for c in values
    )


class ImageGAN(Estimator):
    """Class-conditional image GAN (conditional DCGAN generator, projection discriminator with GroupNorm)."""

    _constraints: ClassVar[dict[str, Constraint]] = {
        **PRIVACY_CONSTRAINTS,
        "classes": Check(_class_list, "None or a list of integer or string class labels"),
        "domain_share": Real(0, 1, closed="left"),
        "image_size": Check(
            lambda v: v is None or v in SUPPORTED_SIZES, f"None or one of {list(SUPPORTED_SIZES)}"
        ),
        "latent_dim": Integer(1),
        "width": Integer(1),
        "spectral_norm": Boolean(),
        "augment": Options(POLICIES),
        "ema_decay": Real(0, 1, closed="left", optional=True),
        "epochs": Integer(0, optional=True),
        "batch_size": Integer(1, optional=True),
        "d_steps": Integer(1),
        "lr": Real(0),
        "beta1": Real(0, 1, closed="left"),
        "weight_decay": Real(0, closed="left"),
        "accelerate": Options(MODES),
        **RUN_CONSTRAINTS,
    }

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

    def _progress(self) -> ProgressCallback | None:
        if self.progress is not None:
            return self.progress
        return TqdmProgress() if self.verbose else None

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise NotFittedError(
                "this ImageGAN is not fitted yet; call fit(images, labels) or load a model dir"
            )

    def _check_all_params(self) -> torch.device:
        self._check_params()
        if self.private and self.spectral_norm:
            raise InvalidParameterError(
                "spectral_norm is not supported under DP (Opacus computes no per-sample gradients for "
                "parametrised weights); set spectral_norm=False, or epsilon=None to train without DP"
            )
        if self.private and self.classes is None and self.domain_share <= 0:
            raise PrivacyBudgetError(
                "under DP the label set must be declared (classes=[...]) or released with part of the budget "
                "(domain_share > 0)"
            )
        return resolve_device(self.device)

    def _config(self, n: int) -> Any:
        from ehrsynth.imaging.fit import ImageGANConfig, plain_classes

        dp = self._dp_config(n, min_rows=MIN_DP_IMAGES, unit="images", domain_share=self.domain_share)
        return ImageGANConfig(
            classes=None if self.classes is None else tuple(plain_classes(self.classes)),
            image_size=self.image_size,
            latent_dim=int(self.latent_dim),
            width=int(self.width),
            spectral_norm=bool(self.spectral_norm),
            augment=self.augment,
            ema_decay=None if self.ema_decay is None else float(self.ema_decay),
            epochs=self.epochs,
            batch_size=self.batch_size,
            d_steps=int(self.d_steps),
            lr=float(self.lr),
            beta1=float(self.beta1),
            weight_decay=float(self.weight_decay),
            accelerate=self.accelerate,
            dp=dp,
            checkpoint_dir=self.checkpoint_dir,
            checkpoint_every=int(self.checkpoint_every),
        )

    # -- fit -----------------------------------------------------------------------------------------------
    def fit(self, images: Any, labels: Any) -> ImageGAN:
        """Fit on ``images`` (uint8 (N, H, W) grayscale or (N, H, W, 3) RGB, square) with class ``labels``
        ((N,) or (N, 1), integers or strings). A fit that raises leaves the estimator as it was."""
        from ehrsynth.imaging.fit import fit_image_gan
        from ehrsynth.imaging.loaders import check_images, check_labels

        device = self._check_all_params()
        imgs = check_images(images)
        labs = check_labels(labels, imgs.shape[0])
        if imgs.shape[0] < MIN_IMAGES:
            raise InvalidDataError(
                f"{imgs.shape[0]} training images; at least {MIN_IMAGES} are needed", column="images"
            )
        config = self._config(imgs.shape[0])
        if not self.private:
            warnings.warn(
                "training WITHOUT differential privacy: no privacy guarantee holds for this model or its output",
                NoPrivacyWarning,
                stacklevel=2,
            )
        state = fit_image_gan(
            config, imgs, labs, random_state=self.random_state, device=device, progress=self._progress()
        )
        self._set_state(state.classes, state.layout, state.image_size, state.generator)
        self.privacy_ = state.privacy
        self.history_ = state.history
        self.schedule_ = state.schedule
        self.n_samples_seen_ = state.n_samples_seen
        return self

    def _set_state(
        self, classes: list[Any], layout: ImageLayout, size: int, gen: ConditionalGenerator
    ) -> None:
        self.generator_ = gen
        self.classes_ = np.asarray(classes)
        self.layout_ = layout
        self.image_size_ = size

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
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a model directory (config, privacy.json, generator weights, manifest). The discriminator is
        not saved: only the generator is needed to sample, and a non-DP discriminator is a membership oracle."""
        self._check_fitted()
        write_model_dir(
            path,
            estimator=ESTIMATOR,
            params=self._saved_params(),
            fitted={
                "classes": self.classes_.tolist(),
                "layout": self.layout_.to_dict(),
                "image_size": int(self.image_size_),
                "schedule": self.schedule_,
                "n_samples_seen": int(self.n_samples_seen_),
            },
            history=self.history_,
            modules={"generator": self.generator_},
            privacy=self.privacy_,
        )


def load(
    path: str | os.PathLike[str], *, device: str = "cpu", progress: ProgressCallback | None = None
) -> ImageGAN:
    """Load a directory written by :meth:`ImageGAN.save` (the manifest is verified first, then every file is
    validated: a tampered or malformed file is a :class:`~ehrsynth.errors.ModelDirError`)."""
    d = verify_model_dir(path)
    where = f"config.json in {str(d)!r}"
    names = [k for k in ImageGAN._constraints if k not in RUNTIME_PARAMS]
    config = read_config(d, ESTIMATOR, names, hint=" (tabular models load with ehrsynth.load)")
    try:
        validate(config["params"], ImageGAN._constraints)
    except EhrsynthError as exc:
        raise ModelDirError(f"{where}: {exc}; re-save the model") from exc
    model = ImageGAN(**config["params"])
    model.device = device
    model.progress = progress
    fitted = config["fitted"]
    fitted_fields(fitted, FITTED_KEYS, where)
    try:
        classes = _checked_classes(fitted["classes"])
        layout = ImageLayout.from_dict(fitted["layout"])
        size = fitted["image_size"]
        if size not in SUPPORTED_SIZES or not isinstance(fitted["schedule"], dict):
            raise ValueError("'image_size' or 'schedule' is invalid")
        seen = fitted["n_samples_seen"]
        if isinstance(seen, bool) or not isinstance(seen, int) or seen < 0:
            raise ValueError(f"'n_samples_seen' must be an integer >= 0, found {seen!r}")
        gen = model._build_generator(len(classes), layout.channels, size)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{where} is malformed: {exc}") from exc
    load_weights(d, {"generator": gen}, resolve_device(device))
    model._set_state(classes, layout, size, gen)
    model.privacy_ = read_privacy(d)
    model.history_ = config["history"]
    model.schedule_ = dict(fitted["schedule"])
    model.n_samples_seen_ = seen
    return model


def _checked_classes(raw: Any) -> list[Any]:
    if not isinstance(raw, list) or not raw or not _class_list(raw) or len(set(map(str, raw))) != len(raw):
        raise ValueError("'classes' must be a non-empty list of distinct integer or string labels")
    return raw
