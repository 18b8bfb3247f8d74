"""Differentiable augmentation of the discriminator's inputs (DiffAugment; Zhao et al. 2020) and the generator's
exponential moving average — two standard remedies for GANs trained on a few thousand images.

:class:`AugmentedDiscriminator` applies the same kind of random, per-image transform to real and fake images
before the discriminator (in training mode only), so the discriminator cannot memorise the few real images and
the generator is not pushed to reproduce the transforms. Policies: ``"translation"`` (shift by up to 1/8 of the
side, empty border filled with black, i.e. -1) and ``"translation,cutout"`` (also blank a random square of half
the side). Each image's transform depends only on that image and the random draw, so under DP the
per-sample clipping still bounds every record's influence. Randomness comes from the given
``torch.Generator`` (the trainer's, so checkpoints capture it).

:class:`GeneratorEMA` keeps ``θ_ema ← θ_ema + w (θ − θ_ema)`` after every generator step, with
``w = max(1 − decay, 1 / (t + 1))`` (a plain running mean at first); sampling uses the averaged weights. It reads
only the generator, so it is post-processing under DP.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from ehrsynth.errors import InvalidParameterError

POLICIES = ("none", "translation", "translation,cutout")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise InvalidParameterError(f"augment must be one of {POLICIES}, found {policy!r}")
    return policy


def translate(x: torch.Tensor, generator: torch.Generator, fraction: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    s = max(1, int(h * fraction))
    padded = F.pad(x, (s, s, s, s), value=-1.0)
    oy = torch.randint(0, 2 * s + 1, (n,), generator=generator).to(x.device)
    ox = torch.randint(0, 2 * s + 1, (n,), generator=generator).to(x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device)[None, :])[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=x.device)[None, :])[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def cutout(x: torch.Tensor, generator: torch.Generator, fraction: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    half = max(1, int(h * fraction) // 2)
    cy = torch.randint(0, h, (n,), generator=generator).to(x.device)
    cx = torch.randint(0, w, (n,), generator=generator).to(x.device)
    yy = torch.arange(h, device=x.device)[None, :, None]
    xx = torch.arange(w, device=x.device)[None, None, :]
    hole = ((yy - cy[:, None, None]).abs() < half) & ((xx - cx[:, None, None]).abs() < half)
    return x * (~hole)[:, None].to(x.dtype)


class AugmentedDiscriminator(nn.Module):
    def __init__(self, discriminator: nn.Module, policy: str, generator: torch.Generator) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.policy = check_policy(policy)
        self.generator = generator

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.training and self.policy != "none":
            x = translate(x, self.generator)
            if "cutout" in self.policy:
                x = cutout(x, self.generator)
        return self.discriminator(x, labels)


class GeneratorEMA:
    def __init__(self, generator: nn.Module, decay: float) -> None:
        if not 0 <= decay < 1:
            raise InvalidParameterError(f"ema_decay must be in [0, 1) or None, found {decay!r}")
        self.source = generator
        self.decay = decay
        self.average = copy.deepcopy(generator)
        for p in self.average.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, step: int) -> None:
        weight = max(1.0 - self.decay, 1.0 / (step + 1))
        for avg, p in zip(self.average.parameters(), self.source.parameters(), strict=True):
            avg.lerp_(p, weight)
