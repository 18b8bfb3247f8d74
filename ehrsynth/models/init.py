"""Weight initialisation from an explicit ``torch.Generator`` (no global seeding), matching PyTorch's
defaults for Linear/Conv layers (Kaiming-uniform with a=√5, bias U(±1/√fan_in))."""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def init_module(module: nn.Module, generator: torch.Generator) -> nn.Module:
    for sub in module.modules():
        weight = getattr(sub, "weight", None)
        if isinstance(sub, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)) and weight is not None:
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            bias = getattr(sub, "bias", None)
            if bias is not None:
                fan_in = weight.shape[1] * (weight[0][0].numel() if weight.dim() > 2 else 1)
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(bias, -bound, bound, generator=generator)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, generator=generator)
    return module
