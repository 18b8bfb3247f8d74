"""Fitting an :class:`~ehrsynth.imaging.estimator.ImageGAN`: labels → classes → budget → GAN → privacy record.

**Schedule.** One epoch is one pass of the discriminator over the images: ``ceil(n / batch)`` D steps without
DP, ``ceil(1 / q)`` Poisson-sampled steps at sample rate ``q = batch / n`` under DP; the generator takes one
step per ``d_steps`` D steps. Fake labels are drawn uniformly over the classes (data-independent).

**DP** (docs/design.md §4). Only the discriminator reads the images, through DP-SGD (Opacus ghost clipping; real and
fake terms in one clipped, noised step; a fresh Poisson batch per step); the generator is post-processing. The
label set is public when ``classes`` is declared (labels outside it are an error) and charged nothing;
otherwise it is released by a thresholded Gaussian count of each label (:func:`ehrsynth.dp.domain.
noisy_category_sets`) spending ``domain_share`` of ε measured alone, and images whose label was not released
are left out. The DP-SGD noise is then calibrated (:func:`ehrsynth.dp.calibration.calibrate_noise`) so that the
composition of both equals ε. The number of images (hence ``q``) is treated as public, as in the tabular fit.

**Resume.** With ``checkpoint_dir`` the training state is saved every ``checkpoint_every`` iterations through
:mod:`ehrsynth.training.checkpoint`; a later fit with the same settings and data resumes with the released
classes and the mechanisms already run, so no budget is spent twice.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from ehrsynth.dp.accounting import (
    ACCOUNTANTS,
    Mechanism,
    PoissonGaussian,
    default_delta,
    mechanism_from_dict,
    mechanism_to_dict,
)
from ehrsynth.errors import InvalidDataError, InvalidParameterError, PrivacyBudgetError
from ehrsynth.imaging.accel import Accel, Autocast
from ehrsynth.imaging.augment import AugmentedDiscriminator, GeneratorEMA, check_policy
from ehrsynth.imaging.layout import ImageLayout, to_model
from ehrsynth.imaging.loaders import check_images, check_labels
from ehrsynth.imaging.models import (
    SUPPORTED_SIZES,
    ConditionalDiscriminator,
    add_spectral_norm,
    choose_size,
    refresh_batchnorm,
)
from ehrsynth.models.init import init_module
from ehrsynth.training.adversarial import AdversarialTrainer, GANConfig
from ehrsynth.training.checkpoint import (
    checkpoint_hook,
    clear_checkpoint,
    fingerprint,
    open_checkpoint,
    restore_trainer,
    save_trainer_checkpoint,
)
from ehrsynth.training.dp_phase import DPPhase

if TYPE_CHECKING:
    from ehrsynth.imaging.estimator import ImageGAN

logger = logging.getLogger(__name__)

MIN_IMAGES = 10
MIN_DP_IMAGES = 100
DEFAULT_BATCH = 64
DEFAULT_EPOCHS = 40
DP_DEFAULT_EPOCHS = 20
DP_BATCH_FRACTION = 0.05
DP_MIN_BATCH, DP_MAX_BATCH = 64, 512


@dataclass(frozen=True)
class ImageSchedule:
    epochs: int
    batch_size: int  # non-DP real and fake batch; under DP the expected Poisson batch and the fake batch
    d_steps: int
    iterations: int  # generator steps
    sample_rate: float | None  # DP only

    @property
    def d_total_steps(self) -> int:
        return self.iterations * self.d_steps


def image_schedule(model: ImageGAN, n: int) -> ImageSchedule:
    if model.private:
        default = min(DP_MAX_BATCH, max(DP_MIN_BATCH, round(DP_BATCH_FRACTION * n)))
        bs = min(model.batch_size or default, n)
        q: float | None = bs / n
        per_epoch = math.ceil(n / bs)
        epochs = DP_DEFAULT_EPOCHS if model.epochs is None else model.epochs
    else:
        bs = min(model.batch_size or DEFAULT_BATCH, n)
        q = None
        per_epoch = math.ceil(n / bs)
        epochs = DEFAULT_EPOCHS if model.epochs is None else model.epochs
    iterations = math.ceil(epochs * per_epoch / model.d_steps)
    return ImageSchedule(epochs, bs, model.d_steps, iterations, q)


def _validate(model: ImageGAN, n: int) -> float | None:
    ints = {"latent_dim": 1, "width": 1, "d_steps": 1, "checkpoint_every": 1}
    for name, low in ints.items():
        v = getattr(model, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise InvalidParameterError(f"{name} must be an integer >= {low}, found {v!r}")
    for name, low in (("epochs", 0), ("batch_size", 1)):
        v = getattr(model, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low):
            raise InvalidParameterError(f"{name} must be an integer >= {low} or None, found {v!r}")
    for name in ("lr", "max_grad_norm"):
        v = getattr(model, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise InvalidParameterError(f"{name} must be a positive number, found {v!r}")
    if not isinstance(model.beta1, (int, float)) or not 0 <= model.beta1 < 1:
        raise InvalidParameterError(f"beta1 must be in [0, 1), found {model.beta1!r}")
    if not isinstance(model.weight_decay, (int, float)) or model.weight_decay < 0:
        raise InvalidParameterError(f"weight_decay must be >= 0, found {model.weight_decay!r}")
    if model.image_size is not None and model.image_size not in SUPPORTED_SIZES:
        raise InvalidParameterError(
            f"image_size must be None or one of {list(SUPPORTED_SIZES)}, found {model.image_size!r}"
        )
    check_policy(model.augment)
    decay = model.ema_decay
    if decay is not None and (
        isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1
    ):
        raise InvalidParameterError(f"ema_decay must be in [0, 1) or None, found {decay!r}")
    if model.accountant not in ACCOUNTANTS:
        raise InvalidParameterError(f"accountant must be one of {ACCOUNTANTS}, found {model.accountant!r}")
    if not model.private:
        return None
    if model.spectral_norm:
        raise InvalidParameterError(
            "spectral_norm is not supported under DP (Opacus computes no per-sample gradients for "
            "parametrised weights); set spectral_norm=False, or epsilon=None to train without DP"
        )
    eps = model.epsilon
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
        raise PrivacyBudgetError(
            f"epsilon must be a positive number, found {eps!r}; use epsilon=None for no DP"
        )
    if n < MIN_DP_IMAGES:
        raise PrivacyBudgetError(
            f"{n} training images; DP training needs at least {MIN_DP_IMAGES} (with fewer, the noise drowns the "
            "signal); use more images or train without DP (epsilon=None) on non-sensitive data"
        )
    delta = default_delta(n) if model.delta is None else model.delta
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1.0 / n:
        raise PrivacyBudgetError(
            f"delta must be in (0, 1/n) = (0, {1.0 / n:.3g}) for n = {n} images, found {delta!r}; the default "
            f"is {default_delta(n):.3g}"
        )
    if not 0 <= model.domain_share < 1:
        raise InvalidParameterError(f"domain_share must be in [0, 1), found {model.domain_share!r}")
    return float(delta)


def _plain_classes(values: Any) -> list[Any]:
    out = [v.item() if isinstance(v, np.generic) else v for v in values]
    for v in out:
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise InvalidParameterError(f"classes must be integers or strings, found {v!r}")
    return sorted(set(out), key=lambda v: (isinstance(v, str), v))


def resolve_classes(
    model: ImageGAN, labels: np.ndarray, delta: float | None, rng: np.random.Generator
) -> tuple[list[Any], list[Mechanism]]:
    """The label set and the DP mechanisms that released it (none when declared or without DP)."""
    if model.classes is not None:
        classes = _plain_classes(model.classes)
        unknown = sorted({str(v) for v in pd.unique(labels)} - {str(c) for c in classes})
        if unknown:
            raise InvalidDataError(
                f"labels {unknown[:10]} are not among the declared classes {classes}; declare every class or "
                "remove those images",
                column="labels",
            )
        return classes, []
    if not model.private:
        return _plain_classes(pd.unique(labels)), []
    from ehrsynth.dp.budget import domain_noise_multiplier
    from ehrsynth.dp.domain import noisy_category_sets

    if model.domain_share <= 0:
        raise PrivacyBudgetError(
            "under DP the label set must be declared (classes=[...]) or released with part of the budget "
            "(domain_share > 0)"
        )
    sigma = domain_noise_multiplier(
        1,
        epsilon=float(model.epsilon),  # type: ignore[arg-type]
        delta=float(delta),  # type: ignore[arg-type]
        share=model.domain_share,
        accountant=model.accountant,
    )
    released, mech = noisy_category_sets(
        {"labels": pd.Series(labels)}, noise_multiplier=sigma, threshold=None, rng=rng, name="domain:classes"
    )
    classes = _plain_classes(released["labels"])
    if not classes:
        raise InvalidDataError(
            "under differential privacy no class was held by enough images to be released; declare the classes "
            "(classes=[...]), use more images or a larger epsilon",
            column="labels",
        )
    return classes, [mech]


def _label_index(labels: np.ndarray, classes: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(index into classes, mask of the images whose label is a class)."""
    lookup = {str(c): i for i, c in enumerate(classes)}
    idx = np.array([lookup.get(str(v), -1) for v in labels.tolist()], dtype=np.int64)
    return idx, idx >= 0


def fit_image_gan(model: ImageGAN, images: Any, labels: Any) -> None:
    from ehrsynth.estimator import NoPrivacyWarning, record_for, resolve_device

    imgs = check_images(images)
    labs = check_labels(labels, imgs.shape[0])
    n_given = imgs.shape[0]
    if n_given < MIN_IMAGES:
        raise InvalidDataError(
            f"{n_given} training images; at least {MIN_IMAGES} are needed", column="images"
        )
    delta = _validate(model, n_given)
    if not model.private:
        warnings.warn(
            "training WITHOUT differential privacy: no privacy guarantee holds for this model or its output",
            NoPrivacyWarning,
            stacklevel=3,
        )
    rng = np.random.default_rng(model.random_state)
    tgen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    device = resolve_device(model.device)
    accel = Accel.resolve(model.accelerate, device, private=model.private)
    layout = ImageLayout.of(imgs)
    size = model.image_size or choose_size(layout.size)

    run = fingerprint(model.get_params(), n_images=n_given, layout=layout.to_dict())
    ckpt = open_checkpoint(model.checkpoint_dir, run)
    if ckpt is not None:
        classes = ckpt[1]["extra"]["classes"]
        domain_mechs = [mechanism_from_dict(m) for m in ckpt[1]["extra"]["domain_mechanisms"]]
    else:
        classes, domain_mechs = resolve_classes(model, labs, delta, rng)
    index, keep = _label_index(labs, classes)
    if not keep.all():
        logger.info("%d images with unreleased labels are left out", int((~keep).sum()))
    n = int(keep.sum())
    real = accel.memory(to_model(imgs[keep], size).to(device))
    real_labels = torch.from_numpy(index[keep]).to(device)

    gen = model._build_generator(len(classes), layout.channels, size)
    disc = ConditionalDiscriminator(
        n_classes=len(classes),
        channels=layout.channels,
        image_size=size,
        width=model.width,
    )
    init_module(gen, tgen)
    init_module(disc, tgen)
    with torch.no_grad():
        disc.embed.weight.zero_()  # the projection starts neutral: no class is favoured before training
    if model.spectral_norm:
        add_spectral_norm(disc, tgen)
    accel.module(gen.to(device))
    accel.module(disc.to(device))

    schedule = image_schedule(model, n)
    dp = None
    if model.private:
        from ehrsynth.dp.calibration import Phase, calibrate_noise

        q = float(schedule.sample_rate)  # type: ignore[arg-type]
        (mech,) = calibrate_noise(
            [Phase("discriminator", q, schedule.d_total_steps)],
            epsilon=float(model.epsilon),  # type: ignore[arg-type]
            delta=float(delta),  # type: ignore[arg-type]
            fixed=domain_mechs,
            accountant=model.accountant,
        )
        dp = DPPhase(mech.noise_multiplier, q, model.max_grad_norm)

    k, latent = len(classes), model.latent_dim

    def generate(m: int, y: torch.Tensor | None) -> torch.Tensor:
        gen.train()  # batch statistics in D and G steps alike (DCGAN practice); refreshed for sampling below
        z = torch.randn(m, latent, generator=tgen).to(device)
        with accel.context():
            out = gen(z, y)
        return out.float()

    def fake_labels(m: int) -> torch.Tensor:
        return torch.randint(k, (m,), generator=tgen).to(device)

    augmented = AugmentedDiscriminator(disc, model.augment, tgen)
    ema = None if model.ema_decay is None else GeneratorEMA(gen, float(model.ema_decay))
    trainer = AdversarialTrainer(
        generator_module=gen,
        generate=generate,
        discriminator=Autocast(augmented, accel) if accel.autocast else augmented,
        real=real,
        real_labels=real_labels,
        fake_labels=fake_labels,
        config=GANConfig(
            iterations=schedule.iterations,
            d_steps=schedule.d_steps,
            batch_size=schedule.batch_size,
            lr=float(model.lr),
            weight_decay=float(model.weight_decay),
            betas=(float(model.beta1), 0.999),
            log_every=max(1, min(50, schedule.iterations // 20)),
        ),
        torch_generator=tgen,
        dp=dp,
        progress=model._progress(),
    )
    modules: dict[str, torch.nn.Module] = {"generator": gen, "discriminator": disc}
    if ema is not None:
        modules["generator_ema"] = ema.average
    if ckpt is not None:
        restore_trainer(ckpt, modules=modules, trainer=trainer, tgen=tgen, rng=rng)

    def save() -> None:
        save_trainer_checkpoint(
            model.checkpoint_dir,  # type: ignore[arg-type]
            modules=modules,
            trainer=trainer,
            tgen=tgen,
            rng=rng,
            fingerprint=run,
            extra={"classes": classes, "domain_mechanisms": [mechanism_to_dict(m) for m in domain_mechs]},
        )

    checkpoint = checkpoint_hook(model.checkpoint_dir, model.checkpoint_every, schedule.iterations, save)

    def on_iteration(iteration: int) -> None:
        if ema is not None:
            ema.update(iteration)
        if checkpoint is not None:
            checkpoint(iteration)

    try:
        history = trainer.run(on_iteration=on_iteration)
    finally:
        trainer.close()

    final = gen if ema is None else ema.average
    refresh_batchnorm(final, k, tgen)  # type: ignore[arg-type]
    mechanisms: list[Mechanism] = list(domain_mechs)
    if dp is not None:
        mechanisms.append(
            PoissonGaussian("discriminator", dp.noise_multiplier, dp.sample_rate, trainer.d_steps_done)
        )
    model.privacy_ = record_for(model.epsilon, delta, model.accountant, mechanisms)
    model.classes_ = np.asarray(classes)
    model.layout_ = layout
    model.image_size_ = size
    model.generator_ = final  # type: ignore[assignment]
    model.history_ = {"gan": history}
    model.schedule_ = asdict(schedule)
    model.n_samples_seen_ = n
    if model.checkpoint_dir:
        clear_checkpoint(model.checkpoint_dir)
