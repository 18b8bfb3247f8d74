"""Autoencoder pretraining (medGAN), optionally with DP-SGD (a phase that reads real data)."""

from __future__ import annotations

import logging

import torch
from torch import nn

from ehrsynth.dp.opacus_wiring import make_private, quiet_hooks
from ehrsynth.models.heads import ReconstructionLoss
from ehrsynth.models.medgan import Autoencoder
from ehrsynth.training.dp_phase import DPPhase
from ehrsynth.training.progress import ProgressCallback, Throttle
from ehrsynth.training.sampling import EpochSampler, PoissonSampler, derive_generator

logger = logging.getLogger(__name__)


def train_autoencoder(
    ae: Autoencoder,
    data: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    generator: torch.Generator,
    dp: DPPhase | None = None,
    progress: ProgressCallback | None = None,
    log_every: int = 50,
) -> list[dict[str, float]]:
    """Train ``ae`` for ``steps`` optimizer steps; returns the history: the step counts, and without DP the
    mean reconstruction loss (under DP that loss is computed on real batches, so it is neither kept nor shown).

    Non-private: shuffled epochs of ``batch_size`` (the last batch kept). DP: a fresh Poisson batch per step
    with ``dp.sample_rate``; the encoder and decoder are wrapped for ghost clipping and unwrapped afterwards.
    """
    n = data.shape[0]
    core = nn.Sequential(ae.encoder, ae.decoder)
    optimizer = torch.optim.Adam(core.parameters(), lr=lr, weight_decay=weight_decay)
    criterion = ReconstructionLoss(ae.head)
    parts = None
    if dp is not None:
        parts = make_private(
            core,
            optimizer,
            criterion,
            noise_multiplier=dp.noise_multiplier,
            max_grad_norm=dp.max_grad_norm,
            expected_batch_size=dp.expected_batch_size(n),
            generator=derive_generator(generator, data.device),
            name="autoencoder",
        )
        sampler: EpochSampler | PoissonSampler = PoissonSampler(n, dp.sample_rate, generator)
        model, opt, crit = parts.module, parts.optimizer, parts.criterion
    else:
        sampler = EpochSampler(n, batch_size, generator)
        model, opt, crit = core, optimizer, criterion
    history: list[dict[str, float]] = []
    report = Throttle(progress, "autoencoder", steps, module=ae)
    core.train()
    running, count = 0.0, 0
    report(0, {})
    try:
        with quiet_hooks():
            for step in range(1, steps + 1):
                idx = sampler().to(data.device)
                if idx.numel() > 0:  # an empty Poisson batch is a no-op step (still counted: conservative)
                    batch = data[idx]
                    loss = crit(model(batch), batch)
                    loss.backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    if dp is None:
                        running += float(loss.item())
                    count += 1
                if step % log_every == 0 or step == steps:
                    # under DP the reconstruction loss is computed on real batches: never kept or shown
                    losses = {} if dp is not None else {"loss": running / max(count, 1)}
                    history.append({"step": float(step), **losses})
                    running, count = 0.0, 0
                    report(step, losses)
    finally:
        if parts is not None:
            parts.close()
    return history
