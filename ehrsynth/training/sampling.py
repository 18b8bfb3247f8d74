"""Batch samplers. Under DP the sampler must match the accountant: Poisson sampling, a fresh batch per step."""

from __future__ import annotations

import torch


class PoissonSampler:
    """Each record joins each batch independently with probability ``sample_rate`` (DP-SGD's assumption)."""

    def __init__(self, n: int, sample_rate: float, generator: torch.Generator) -> None:
        self.n = n
        self.sample_rate = sample_rate
        self.generator = generator

    def __call__(self) -> torch.Tensor:
        mask = torch.rand(self.n, generator=self.generator) < self.sample_rate
        return torch.nonzero(mask, as_tuple=False).squeeze(1)


class UniformSampler:
    """A fixed-size batch drawn without replacement, fresh for every step (medGAN's non-private sampling)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        self.n = n
        self.batch_size = min(batch_size, n)
        self.generator = generator

    def __call__(self) -> torch.Tensor:
        return torch.randperm(self.n, generator=self.generator)[: self.batch_size]


class EpochSampler:
    """Shuffled passes over the data in batches; the last, smaller batch is kept (never silently dropped)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        self.n = n
        self.batch_size = min(batch_size, n)
        self.generator = generator
        self._order = torch.empty(0, dtype=torch.long)
        self._pos = 0

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.n // self.batch_size)

    def __call__(self) -> torch.Tensor:
        if self._pos >= self._order.numel():
            self._order = torch.randperm(self.n, generator=self.generator)
            self._pos = 0
        batch = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return batch


def derive_generator(generator: torch.Generator, device: torch.device | str) -> torch.Generator:
    """A new generator on ``device`` seeded from ``generator`` (e.g. for DP noise on the parameters' device)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return torch.Generator(device=device).manual_seed(seed)
