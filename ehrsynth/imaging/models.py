"""Conditional DCGAN-family modules for square images (docs/design.md §7).

Supported sizes are ``base · 2^k`` with base 4 or 7 in 28–128 px: :data:`SUPPORTED_SIZES` = 28, 32, 56, 64,
112, 128 (other sizes are resized to one of these by the estimator, see :func:`choose_size`).

- :class:`ConditionalGenerator`: ``z → Linear → base×base`` feature map, then per doubling
  ``conditional BatchNorm(y) → ReLU → ConvTranspose 4×4/2`` (the last one to the image channels) and tanh
  (pixels in [-1, 1]). The label enters through per-class BatchNorm gains and shifts: concatenating a label
  embedding to z instead made the generator ignore z (one image per class) in our PneumoniaMNIST runs. The
  generator never sees real data, so BatchNorm in it is allowed under DP (post-processing); it trains with batch
  statistics, and :func:`refresh_batchnorm` fixes running statistics for sampling.
- :class:`ConditionalDiscriminator`: strided ``Conv 4×4/2`` with LeakyReLU(0.2) and GroupNorm (never BatchNorm:
  DP-SGD's per-sample clipping needs every record's output to depend on that record only), flattened features
  ``h`` and a projection head (Miyato & Koyama 2018): ``logit = w·h + b + embed(y)·h``.
  :func:`add_spectral_norm` adds spectral normalisation (non-DP only: Opacus computes no per-sample gradients
  for parametrised weights).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ehrsynth.errors import InvalidParameterError

SUPPORTED_SIZES: tuple[int, ...] = (28, 32, 56, 64, 112, 128)
MAX_CHANNELS = 512


def size_plan(image_size: int) -> tuple[int, int]:
    """``(base, doublings)`` with ``base · 2**doublings == image_size``, base in {4, 7}."""
    if image_size not in SUPPORTED_SIZES:
        raise InvalidParameterError(
            f"image_size must be one of {list(SUPPORTED_SIZES)}, found {image_size!r}; other sizes are resized "
            "to one of these (ImageGAN(image_size=None) picks the nearest)"
        )
    base = 7 if image_size % 7 == 0 else 4
    return base, (image_size // base).bit_length() - 1


def choose_size(height: int) -> int:
    """The supported size nearest to ``height`` (ties go to the larger size)."""
    return min(SUPPORTED_SIZES, key=lambda s: (abs(s - height), -s))


def _groups(channels: int) -> int:
    for g in (8, 4, 2, 1):
        if channels % g == 0:
            return g
    return 1  # pragma: no cover


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine map, then a per-class gain and shift: ``BN(h) · (1 + γ[y]) + β[y]``
    (conditional batch normalisation, as in SNGAN/BigGAN). γ and β start at zero (plain BN)."""

    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Parameter(torch.zeros(n_classes, channels))
        self.shift = nn.Parameter(torch.zeros(n_classes, channels))

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.norm(h) * (1 + self.gain[labels][:, :, None, None]) + self.shift[labels][:, :, None, None]


class ConditionalGenerator(nn.Module):
    def __init__(
        self,
        *,
        n_classes: int,
        channels: int,
        image_size: int,
        latent_dim: int = 64,
        width: int = 32,
    ) -> None:
        super().__init__()
        base, doublings = size_plan(image_size)
        self.latent_dim = latent_dim
        self.base = base
        ch = min(width * 2 ** max(doublings - 1, 0), MAX_CHANNELS)
        self.start_channels = ch
        self.project = nn.Linear(latent_dim, ch * base * base)
        norms: list[nn.Module] = []
        convs: list[nn.Module] = []
        for i in range(doublings):
            out = channels if i == doublings - 1 else max(ch // 2, width)
            norms.append(ConditionalBatchNorm(ch, n_classes))
            convs.append(nn.ConvTranspose2d(ch, out, 4, 2, 1))
            ch = out
        self.norms = nn.ModuleList(norms)
        self.convs = nn.ModuleList(convs)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], self.start_channels, self.base, self.base)
        for norm, conv in zip(self.norms, self.convs, strict=True):
            h = conv(torch.relu(norm(h, labels)))
        return torch.tanh(h)


@torch.no_grad()
def refresh_batchnorm(
    generator: ConditionalGenerator,
    n_classes: int,
    torch_generator: torch.Generator,
    *,
    batches: int = 20,
    batch_size: int = 256,
) -> None:
    """Recompute the generator's BatchNorm running statistics as the average over ``batches`` batches of
    uniformly drawn labels (batch statistics, as in training), then leave it in eval mode. Sampling then
    normalises every image with the same fixed statistics, whatever the batch or its labels."""
    device = next(generator.parameters()).device
    bns = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    generator.train()
    for _ in range(batches):
        z = torch.randn(batch_size, generator.latent_dim, generator=torch_generator).to(device)
        y = torch.randint(n_classes, (batch_size,), generator=torch_generator).to(device)
        generator(z, y)
    for bn in bns:
        bn.momentum = 0.1
    generator.eval()


class ConditionalDiscriminator(nn.Module):
    def __init__(
        self,
        *,
        n_classes: int,
        channels: int,
        image_size: int,
        width: int = 32,
    ) -> None:
        super().__init__()
        base, doublings = size_plan(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(doublings - 1):
            out = min(ch * 2, MAX_CHANNELS)
            layers += [nn.Conv2d(ch, out, 4, 2, 1), nn.GroupNorm(_groups(out), out), nn.LeakyReLU(0.2)]
            ch = out
        self.body = nn.Sequential(*layers, nn.Flatten())
        features = ch * base * base
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(n_classes, features)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)


@torch.no_grad()
def add_spectral_norm(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Spectrally normalise every Conv2d/Linear weight of ``module`` (after initialisation), with the power
    iteration's start vectors drawn from ``generator`` (PyTorch would draw them from the global RNG)."""
    for sub in list(module.modules()):
        if isinstance(sub, (nn.Conv2d, nn.Linear)):
            _spectral_norm(sub)
            param: Any = getattr(sub, "parametrizations").weight[0]  # noqa: B009
            for name in ("_u", "_v"):
                vec = getattr(param, name)
                vec.copy_(
                    nn.functional.normalize(torch.randn(vec.shape, generator=generator), dim=0, eps=param.eps)
                )
    return module
