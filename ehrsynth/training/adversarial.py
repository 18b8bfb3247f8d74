"""The adversarial loop shared by the tabular medGAN and the imaging GANs.

Each iteration runs ``d_steps`` discriminator steps, each on a FRESH batch of real records (Poisson under
DP), then one generator step. The generator side is anything with trainable parameters and a ``generate``
function (medGAN: decoder(G(z)), whose decoder fine-tuning is post-processing under DP; imaging: G(z, y)).

Under DP (docs/design.md §4): the discriminator is wrapped for ghost clipping; the real and fake terms of its loss
go through one forward on the concatenated batch, one backward and one clipped, noised step; the generator
step runs with the discriminator's hooks disabled and its gradients discarded (they never reach a D update).
The generator's BatchNorm uses running statistics during D steps and batch statistics during G steps.

What a run reports (history, progress): without DP the mean D and G losses per ``log_every`` iterations; under
DP only the iteration count and the G loss — the D loss is computed on real batches and no mechanism accounts
for it, while the G loss is computed on generated data through the (DP) discriminator: post-processing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ehrsynth.dp.opacus_wiring import PrivateParts, make_private, quiet_hooks
from ehrsynth.training.dp_phase import DPPhase
from ehrsynth.training.progress import ProgressCallback, Throttle
from ehrsynth.training.sampling import PoissonSampler, UniformSampler, derive_generator

logger = logging.getLogger(__name__)

Generate = Callable[[int, "torch.Tensor | None"], torch.Tensor]
FakeLabels = Callable[[int], "torch.Tensor | None"]
#: An extra term of the generator's loss, a function of the generated batch only (never of real data), so
#: under DP it is post-processing (medGAN's hybrid engine: the measured-query loss).
GeneratorLoss = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GANConfig:
    iterations: int  # generator steps
    d_steps: int = 2  # discriminator steps per generator step
    batch_size: int = 1000  # real batch (non-DP) and fake batch size
    lr: float = 1e-3
    weight_decay: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    log_every: int = 10
    # Fakes for D steps from the generator in training mode (BatchNorm batch statistics), like its G steps.
    # False is the medGAN reference (running statistics during D steps): on short schedules the running
    # averages lag the generator, so D learns to reject fakes G never optimises and sees no useful signal.
    fake_batch_stats: bool = False


class AdversarialTrainer:
    """Runs the GAN phase; holds the optimizers so that checkpoints can save and restore them."""

    def __init__(
        self,
        *,
        generator_module: nn.Module,
        generate: Generate,
        discriminator: nn.Module,
        real: torch.Tensor,
        config: GANConfig,
        torch_generator: torch.Generator,
        real_labels: torch.Tensor | None = None,
        fake_labels: FakeLabels | None = None,
        generator_params: Iterable[nn.Parameter] | None = None,
        dp: DPPhase | None = None,
        progress: ProgressCallback | None = None,
        generator_loss: GeneratorLoss | None = None,
    ) -> None:
        self.generator_module = generator_module
        self.generator_loss = generator_loss
        self.generate = generate
        self.discriminator = discriminator
        self.real = real
        self.real_labels = real_labels
        self.fake_labels: FakeLabels = fake_labels or (lambda n: None)
        self.config = config
        self.dp = dp
        self.progress = progress
        self.torch_generator = torch_generator
        params = (
            list(generator_params) if generator_params is not None else list(generator_module.parameters())
        )
        self.g_optimizer = torch.optim.Adam(
            params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
        self.d_optimizer = torch.optim.Adam(
            discriminator.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
        n = real.shape[0]
        self._private: PrivateParts | None = None
        if dp is not None:
            self._private = make_private(
                discriminator,
                self.d_optimizer,
                nn.BCEWithLogitsLoss(),
                noise_multiplier=dp.noise_multiplier,
                max_grad_norm=dp.max_grad_norm,
                expected_batch_size=dp.expected_batch_size(n),
                generator=derive_generator(torch_generator, real.device),
                name="discriminator",
            )
            self.fake_batch = dp.expected_batch_size(n)
            self.sampler: PoissonSampler | UniformSampler = PoissonSampler(n, dp.sample_rate, torch_generator)
        else:
            self.fake_batch = min(config.batch_size, n)
            self.sampler = UniformSampler(n, config.batch_size, torch_generator)
        self.iteration = 0
        self.d_steps_done = 0
        self.history: list[dict[str, float]] = []

    # -- one step of each kind ------------------------------------------------------------------------------
    def _disc(self, module: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return module(x) if labels is None else module(x, labels)

    def _fake(self, train_mode: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        labels = self.fake_labels(self.fake_batch)
        self.generator_module.train(train_mode)
        return self.generate(self.fake_batch, labels), labels

    def discriminator_step(self) -> float:
        idx = self.sampler().to(self.real.device)
        real = self.real[idx]
        real_labels = None if self.real_labels is None else self.real_labels[idx]
        with torch.no_grad():
            fake, fake_labels = self._fake(train_mode=self.config.fake_batch_stats)
        if self._private is not None:
            parts = self._private
            parts.optimizer.zero_grad(set_to_none=True)
            x = torch.cat([real, fake], dim=0)
            y = torch.cat([torch.ones(real.shape[0]), torch.zeros(fake.shape[0])]).to(x.device)
            labels = None if fake_labels is None else torch.cat([real_labels, fake_labels])  # type: ignore[list-item]
            loss = parts.criterion(self._disc(parts.module, x, labels), y)
            loss.backward()
            parts.optimizer.step()
            value = 0.0  # under DP the loss on real data is never read out
        else:
            self.d_optimizer.zero_grad(set_to_none=True)
            logit_real = self._disc(self.discriminator, real, real_labels)
            logit_fake = self._disc(self.discriminator, fake, fake_labels)
            loss_t = F.binary_cross_entropy_with_logits(
                logit_real, torch.ones_like(logit_real)
            ) + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
            loss_t.backward()
            self.d_optimizer.step()
            value = float(loss_t.item())
        self.d_steps_done += 1
        return value

    def generator_step(self) -> float:
        d_params = list(self.discriminator.parameters())
        if self._private is not None:
            self._private.module.disable_hooks()
        for p in d_params:
            p.requires_grad_(False)
        try:
            self.g_optimizer.zero_grad(set_to_none=True)
            fake, labels = self._fake(train_mode=True)
            logits = self._disc(self.discriminator, fake, labels)
            loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))  # non-saturating
            if self.generator_loss is not None:
                loss = loss + self.generator_loss(fake)
            loss.backward()
            self.g_optimizer.step()
        finally:
            for p in d_params:
                p.requires_grad_(True)
            if self._private is not None:
                self._private.module.enable_hooks()
        return float(loss.item())

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self, *, on_iteration: Callable[[int], None] | None = None) -> list[dict[str, float]]:
        """Run from ``self.iteration`` to ``config.iterations``. ``on_iteration`` (e.g. checkpointing) is
        called after each completed iteration."""
        cfg = self.config
        report = Throttle(self.progress, "gan", cfg.iterations, module=self.generator_module)
        self.discriminator.train()
        d_sum = g_sum = 0.0
        count = 0
        report(self.iteration, {})
        while self.iteration < cfg.iterations:
            with quiet_hooks():
                d_loss = sum(self.discriminator_step() for _ in range(cfg.d_steps)) / cfg.d_steps
            g_loss = self.generator_step()
            self.iteration += 1
            d_sum, g_sum, count = d_sum + d_loss, g_sum + g_loss, count + 1
            if self.iteration % cfg.log_every == 0 or self.iteration == cfg.iterations:
                losses = {"g_loss": g_sum / count}
                if self.dp is None:  # under DP the D loss is computed on real batches: never kept or shown
                    losses = {"d_loss": d_sum / count, **losses}
                self.history.append({"iteration": float(self.iteration), **losses})
                d_sum = g_sum = 0.0
                count = 0
                report(self.iteration, losses)
            if on_iteration is not None:
                on_iteration(self.iteration)
        return self.history

    def close(self) -> None:
        if self._private is not None:
            self._private.close()
            self._private = None
