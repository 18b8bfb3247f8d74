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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ehrsynth.dp.accounting import Mechanism, PoissonGaussian, mechanism_from_dict, mechanism_to_dict
from ehrsynth.dp.budget import DPConfig
from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.errors import InvalidDataError, InvalidParameterError
from ehrsynth.imaging.accel import Accel, Autocast
from ehrsynth.imaging.augment import AugmentedDiscriminator, GeneratorEMA
from ehrsynth.imaging.layout import ImageLayout, to_model
from ehrsynth.imaging.models import (
    ConditionalDiscriminator,
    ConditionalGenerator,
    add_spectral_norm,
    choose_size,
    refresh_batchnorm,
)
from ehrsynth.models.init import init_module
from ehrsynth.training.adversarial import AdversarialTrainer, GANConfig
from ehrsynth.training.checkpoint import (
    array_sha256,
    checkpoint_hook,
    clear_checkpoint,
    fingerprint,
    open_checkpoint,
    restore_trainer,
    save_trainer_checkpoint,
)
from ehrsynth.training.dp_phase import DPPhase
from ehrsynth.training.fit_config import FitConfig
from ehrsynth.training.progress import ProgressCallback

logger = logging.getLogger(__name__)

MIN_IMAGES = 10
MIN_DP_IMAGES = 100
DEFAULT_BATCH = 64
DEFAULT_EPOCHS = 40
DP_DEFAULT_EPOCHS = 20
DP_BATCH_FRACTION = 0.05
DP_MIN_BATCH, DP_MAX_BATCH = 64, 512


@dataclass(frozen=True)
class ImageGANConfig(FitConfig):
    """Everything an image fit needs besides the data and the random generators, validated and frozen."""

    classes: tuple[Any, ...] | None
    image_size: int | None
    latent_dim: int
    width: int
    spectral_norm: bool
    augment: str
    ema_decay: float | None
    epochs: int | None
    batch_size: int | None
    d_steps: int
    lr: float
    beta1: float
    weight_decay: float
    accelerate: str
    dp: DPConfig | None
    checkpoint_dir: str | None = None
    checkpoint_every: int = 200


@dataclass(frozen=True)
class ImageGANState:
    """What an image fit produced; the estimator assigns its fitted attributes from it, at the very end."""

    classes: list[Any]
    layout: ImageLayout
    image_size: int
    generator: ConditionalGenerator
    privacy: PrivacyRecord
    history: dict[str, list[dict[str, float]]]
    schedule: dict[str, Any]
    n_samples_seen: int


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


def image_schedule(config: ImageGANConfig, n: int) -> ImageSchedule:
    if config.private:
        default = min(DP_MAX_BATCH, max(DP_MIN_BATCH, round(DP_BATCH_FRACTION * n)))
        bs = min(config.batch_size or default, n)
        q: float | None = bs / n
        epochs = DP_DEFAULT_EPOCHS if config.epochs is None else config.epochs
    else:
        bs = min(config.batch_size or DEFAULT_BATCH, n)
        q = None
        epochs = DEFAULT_EPOCHS if config.epochs is None else config.epochs
    per_epoch = math.ceil(n / bs)
    iterations = math.ceil(epochs * per_epoch / config.d_steps)
    return ImageSchedule(epochs, bs, config.d_steps, iterations, q)


def plain_classes(values: Any) -> list[Any]:
    out = [v.item() if isinstance(v, np.generic) else v for v in values]
    for v in out:
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise InvalidParameterError(f"classes must be integers or strings, found {v!r}")
    return sorted(set(out), key=lambda v: (isinstance(v, str), v))


def resolve_classes(
    config: ImageGANConfig, labels: np.ndarray, rng: np.random.Generator
) -> tuple[list[Any], list[Mechanism]]:
    """The label set and the DP mechanisms that released it (none when declared or without DP)."""
    if config.classes is not None:
        classes = plain_classes(config.classes)
        unknown = sorted({str(v) for v in pd.unique(labels)} - {str(c) for c in classes})
        if unknown:
            raise InvalidDataError(
                f"labels {unknown[:10]} are not among the declared classes {classes}; declare every class or "
                "remove those images",
                column="labels",
            )
        return classes, []
    if config.dp is None:
        return plain_classes(pd.unique(labels)), []
    from ehrsynth.dp.domain import noisy_category_sets

    sigma = config.dp.release_noise(1, config.dp.domain_share)
    released, mech = noisy_category_sets(
        {"labels": pd.Series(labels)}, noise_multiplier=sigma, threshold=None, rng=rng, name="domain:classes"
    )
    classes = plain_classes(released["labels"])
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


def build_generator(config: ImageGANConfig, n_classes: int, channels: int, size: int) -> ConditionalGenerator:
    return ConditionalGenerator(
        n_classes=n_classes,
        channels=channels,
        image_size=size,
        latent_dim=config.latent_dim,
        width=config.width,
    )


def _build(
    config: ImageGANConfig, k: int, layout: ImageLayout, size: int, tgen: torch.Generator, accel: Accel
) -> tuple[ConditionalGenerator, ConditionalDiscriminator]:
    gen = build_generator(config, k, layout.channels, size)
    disc = ConditionalDiscriminator(
        n_classes=k, channels=layout.channels, image_size=size, width=config.width
    )
    init_module(gen, tgen)
    init_module(disc, tgen)
    with torch.no_grad():
        disc.embed.weight.zero_()  # the projection starts neutral: no class is favoured before training
    if config.spectral_norm:
        add_spectral_norm(disc, tgen)
    accel.module(gen.to(accel.device))
    accel.module(disc.to(accel.device))
    return gen, disc


def _noise(config: ImageGANConfig, schedule: ImageSchedule, fixed: list[Mechanism]) -> DPPhase | None:
    if config.dp is None:
        return None
    from ehrsynth.dp.budget import plan_sgd_noise
    from ehrsynth.dp.calibration import Phase

    q = float(schedule.sample_rate or 0.0)
    plan = plan_sgd_noise([Phase("discriminator", q, schedule.d_total_steps)], config.dp, fixed=fixed)
    return DPPhase(plan.phases["discriminator"].noise_multiplier, q, config.dp.max_grad_norm)


def fit_image_gan(
    config: ImageGANConfig,
    imgs: np.ndarray,
    labs: np.ndarray,
    *,
    random_state: int | None,
    device: torch.device,
    progress: ProgressCallback | None = None,
) -> ImageGANState:
    """Fit on checked images and labels with ``config``; returns the state (touches no estimator)."""
    rng = np.random.default_rng(random_state)
    tgen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    accel = Accel.resolve(config.accelerate, device, private=config.private)
    layout = ImageLayout.of(imgs)
    size = config.image_size or choose_size(layout.size)
    run = fingerprint(
        config.fingerprint(),
        random_state=random_state,
        n_images=imgs.shape[0],
        layout=layout.to_dict(),
        data_sha256=array_sha256(imgs, labs),
    )
    ckpt = open_checkpoint(config.checkpoint_dir, run)
    if ckpt is not None:
        classes = ckpt[1]["extra"]["classes"]
        domain_mechs = [mechanism_from_dict(m) for m in ckpt[1]["extra"]["domain_mechanisms"]]
    else:
        classes, domain_mechs = resolve_classes(config, labs, rng)
    index, keep = _label_index(labs, classes)
    if not keep.all():
        logger.info("%d images with unreleased labels are left out", int((~keep).sum()))
    n = int(keep.sum())
    real = accel.memory(to_model(imgs[keep], size).to(device))
    real_labels = torch.from_numpy(index[keep]).to(device)
    gen, disc = _build(config, len(classes), layout, size, tgen, accel)
    schedule = image_schedule(config, n)
    dp = _noise(config, schedule, domain_mechs)
    ema = None if config.ema_decay is None else GeneratorEMA(gen, float(config.ema_decay))
    trainer = _trainer(
        config, gen, disc, real, real_labels, len(classes), schedule, tgen, accel, dp, progress
    )
    modules: dict[str, torch.nn.Module] = {"generator": gen, "discriminator": disc}
    if ema is not None:
        modules["generator_ema"] = ema.average
    if ckpt is not None:
        restore_trainer(ckpt, modules=modules, trainer=trainer, tgen=tgen, rng=rng)

    def save() -> None:
        extra = {"classes": classes, "domain_mechanisms": [mechanism_to_dict(m) for m in domain_mechs]}
        save_trainer_checkpoint(
            str(config.checkpoint_dir),
            modules=modules,
            trainer=trainer,
            tgen=tgen,
            rng=rng,
            fingerprint=run,
            extra=extra,
        )

    checkpoint = checkpoint_hook(config.checkpoint_dir, config.checkpoint_every, schedule.iterations, save)
    try:
        history = trainer.run(on_iteration=_on_iteration(ema, checkpoint))
    finally:
        trainer.close()
    final = gen if ema is None else ema.average
    refresh_batchnorm(final, len(classes), tgen)  # type: ignore[arg-type]
    mechanisms: list[Mechanism] = list(domain_mechs)
    if dp is not None:
        mechanisms.append(
            PoissonGaussian("discriminator", dp.noise_multiplier, dp.sample_rate, trainer.d_steps_done)
        )
    privacy = (
        PrivacyRecord.non_private()
        if config.dp is None
        else PrivacyRecord.composed(config.dp.epsilon, config.dp.delta, config.dp.accountant, mechanisms)
    )
    if config.checkpoint_dir:
        clear_checkpoint(config.checkpoint_dir)
    return ImageGANState(classes, layout, size, final, privacy, {"gan": history}, asdict(schedule), n)  # type: ignore[arg-type]


def _on_iteration(
    ema: GeneratorEMA | None, checkpoint: Callable[[int], None] | None
) -> Callable[[int], None]:
    def on_iteration(iteration: int) -> None:
        if ema is not None:
            ema.update(iteration)
        if checkpoint is not None:
            checkpoint(iteration)

    return on_iteration


def _trainer(
    config: ImageGANConfig,
    gen: ConditionalGenerator,
    disc: ConditionalDiscriminator,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    k: int,
    schedule: ImageSchedule,
    tgen: torch.Generator,
    accel: Accel,
    dp: DPPhase | None,
    progress: ProgressCallback | None,
) -> AdversarialTrainer:
    latent, device = config.latent_dim, real.device

    def generate(m: int, y: torch.Tensor | None) -> torch.Tensor:
        gen.train()  # batch statistics in D and G steps alike (DCGAN practice); refreshed for sampling later
        z = torch.randn(m, latent, generator=tgen).to(device)
        with accel.context():
            out = gen(z, y)
        return out.float()

    def fake_labels(m: int) -> torch.Tensor:
        return torch.randint(k, (m,), generator=tgen).to(device)

    augmented = AugmentedDiscriminator(disc, config.augment, tgen)
    return AdversarialTrainer(
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
            lr=float(config.lr),
            weight_decay=float(config.weight_decay),
            betas=(float(config.beta1), 0.999),
            log_every=max(1, min(50, schedule.iterations // 20)),
        ),
        torch_generator=tgen,
        dp=dp,
        progress=progress,
    )
