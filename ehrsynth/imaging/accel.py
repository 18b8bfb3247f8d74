"""GPU fast paths: bf16 autocast and channels_last memory format.

``accelerate='auto'`` turns them on when the device is CUDA; ``'on'`` forces them on any device (so the same
code path runs in CPU tests); ``'off'`` never. Under DP autocast stays off whatever the setting: per-sample
gradient norms computed in bf16 can exceed the clipping bound by rounding, and the privacy guarantee rests on
that bound; channels_last (a memory layout only) is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ehrsynth.errors import InvalidParameterError

MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class Accel:
    device: torch.device
    autocast: bool
    channels_last: bool

    @classmethod
    def resolve(cls, mode: str, device: torch.device, *, private: bool) -> Accel:
        if mode not in MODES:
            raise InvalidParameterError(f"accelerate must be one of {MODES}, found {mode!r}")
        on = mode == "on" or (mode == "auto" and device.type == "cuda")
        return cls(device, autocast=on and not private, channels_last=on)

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            yield

    def memory(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def module(self, m: nn.Module) -> nn.Module:
        return m.to(memory_format=torch.channels_last) if self.channels_last else m  # type: ignore[call-overload]


class Autocast(nn.Module):
    """Runs ``inner`` under the accel context and returns float32 outputs (losses stay in full precision)."""

    def __init__(self, inner: nn.Module, accel: Accel) -> None:
        super().__init__()
        self.inner = inner
        self.accel = accel

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        with self.accel.context():
            out = self.inner(*(self.accel.memory(a) if a.dim() == 4 else a for a in args))
        return out.float()
