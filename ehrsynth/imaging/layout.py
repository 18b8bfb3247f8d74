"""Between user image arrays (uint8, channels last) and model tensors (float32 NCHW in [-1, 1])."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ehrsynth.errors import ModelDirError


@dataclass(frozen=True)
class ImageLayout:
    """How the training images were given: ``size`` px square, ``channels`` (1 or 3), and whether grayscale
    images had a channel axis ((N, H, W, 1) rather than (N, H, W)). Samples are returned in this layout."""

    size: int
    channels: int
    channel_axis: bool

    @classmethod
    def of(cls, images: np.ndarray) -> ImageLayout:
        return cls(int(images.shape[1]), 1 if images.ndim == 3 else int(images.shape[3]), images.ndim == 4)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> ImageLayout:
        try:
            out = cls(int(d["size"]), int(d["channels"]), bool(d["channel_axis"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelDirError(f"the saved image layout is malformed: {exc}") from exc
        if out.channels not in (1, 3) or out.size < 1:
            raise ModelDirError(f"the saved image layout is invalid: {out}")
        return out


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of an NCHW float tensor to ``size`` × ``size``."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def to_model(images: np.ndarray, size: int, *, batch: int = 4096) -> torch.Tensor:
    """uint8 (N, H, W[, C]) → float32 (N, C, size, size) in [-1, 1] (on the CPU)."""
    parts = []
    for start in range(0, images.shape[0], batch):
        t = torch.from_numpy(np.ascontiguousarray(images[start : start + batch]))
        t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2)
        parts.append(resize(t.float().div(127.5).sub(1.0), size))
    return torch.cat(parts).contiguous()


def to_user(x: torch.Tensor, layout: ImageLayout) -> np.ndarray:
    """float (N, C, s, s) in [-1, 1] → uint8 in ``layout`` (resized back to ``layout.size``)."""
    x = resize(x.detach().float().cpu(), layout.size)
    pixels = x.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    if layout.channels == 1 and not layout.channel_axis:
        return pixels[:, 0].numpy()
    return pixels.permute(0, 2, 3, 1).contiguous().numpy()
