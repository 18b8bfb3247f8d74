"""medGAN modules (Choi et al. 2017; docs/design.md §3), extended to mixed layouts through :class:`LayoutHead`.

- :class:`Autoencoder`: encoder ``input → 128`` (tanh for binary data, ReLU for counts), decoder
  ``128 → input`` whose logits go through the layout's activations.
- :class:`Generator`: residual blocks ``h = ReLU(BN(W h)) + h`` (no bias, width = latent size), last block with
  tanh (binary) or ReLU (count); BatchNorm momentum 0.01 / eps 1e-3 (TF decay 0.99). Generated records are
  ``decoder(G(z))``.
- :class:`Discriminator`: MLP 256 → 128 → 1 with ReLU, returns logits; optional minibatch averaging
  (concatenate the batch mean to every row), which must be off under DP. No normalisation layers, so it is
  compatible with per-sample clipping.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ehrsynth.models.heads import LayoutHead
from ehrsynth.transforms.layout import Span

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class Autoencoder(nn.Module):
    def __init__(self, layout: list[Span], code_dim: int = 128, hidden_activation: str = "tanh") -> None:
        super().__init__()
        self.head = LayoutHead(layout)
        width = self.head.width
        self.encoder = nn.Sequential(nn.Linear(width, code_dim), ACTIVATIONS[hidden_activation]())
        self.decoder = nn.Linear(code_dim, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits (apply ``decode`` activations with ``self.head.activate``)."""
        return self.decoder(self.encoder(x))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.head.activate(self.decoder(code))


class _ResidualBlock(nn.Module):
    def __init__(self, dim: int, activation: nn.Module) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim, bias=False)
        self.bn = nn.BatchNorm1d(dim, eps=1e-3, momentum=0.01)
        self.activation = activation

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.activation(self.bn(self.linear(h))) + h


class Generator(nn.Module):
    def __init__(
        self, latent_dim: int = 128, hidden_dims: Sequence[int] = (128, 128), output_activation: str = "tanh"
    ) -> None:
        super().__init__()
        dims = [*hidden_dims, latent_dim]
        if any(d != latent_dim for d in dims):
            raise ValueError(
                f"medGAN's residual generator needs every layer as wide as the latent size {latent_dim}, "
                f"found {list(hidden_dims)}"
            )
        self.latent_dim = latent_dim
        blocks: list[nn.Module] = [_ResidualBlock(latent_dim, nn.ReLU()) for _ in hidden_dims]
        blocks.append(_ResidualBlock(latent_dim, ACTIVATIONS[output_activation]()))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(z)


class Discriminator(nn.Module):
    def __init__(
        self, input_dim: int, hidden_dims: Sequence[int] = (256, 128), minibatch_averaging: bool = True
    ) -> None:
        super().__init__()
        self.minibatch_averaging = minibatch_averaging
        layers: list[nn.Module] = []
        prev = input_dim * (2 if minibatch_averaging else 1)
        for dim in hidden_dims:
            layers += [nn.Linear(prev, dim), nn.ReLU()]
            prev = dim
        layers.append(nn.Linear(prev, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.minibatch_averaging:
            x = torch.cat([x, x.mean(dim=0, keepdim=True).expand_as(x)], dim=1)
        return self.net(x).squeeze(1)
