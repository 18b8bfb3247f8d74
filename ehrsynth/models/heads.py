"""Output activations and reconstruction loss for an encoded layout (binary, scaled, softmax spans)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ehrsynth.transforms.layout import Span, SpanKind, softmax_blocks, unit_indexes


class LayoutHead(nn.Module):
    """Holds the index sets of a layout as buffers so activation/loss move with the module's device."""

    bce_idx: torch.Tensor
    mse_idx: torch.Tensor

    def __init__(self, layout: list[Span]) -> None:
        super().__init__()
        self.register_buffer(
            "bce_idx", torch.as_tensor(unit_indexes(layout, SpanKind.BINARY, SpanKind.MISSING))
        )
        self.register_buffer("mse_idx", torch.as_tensor(unit_indexes(layout, SpanKind.SCALED)))
        self.blocks = softmax_blocks(layout)
        self.width = sum(s.width for s in layout)

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        """Sigmoid on single units, softmax on each categorical block (one concatenation, autograd-safe)."""
        if not self.blocks:
            return torch.sigmoid(logits)
        if not torch.is_grad_enabled():  # inference: in place, no concatenation copies
            probs = [torch.softmax(logits[:, a : a + w], dim=1) for a, w in self.blocks]
            out = logits.sigmoid_()
            for (a, w), p in zip(self.blocks, probs, strict=True):
                out[:, a : a + w] = p
            return out
        parts: list[torch.Tensor] = []
        pos = 0
        for start, width in self.blocks:
            if start > pos:
                parts.append(torch.sigmoid(logits[:, pos:start]))
            parts.append(torch.softmax(logits[:, start : start + width], dim=1))
            pos = start + width
        if pos < logits.shape[1]:
            parts.append(torch.sigmoid(logits[:, pos:]))
        return torch.cat(parts, dim=1)

    def per_sample_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """medGAN's reconstruction loss per record: summed over units (BCE, MSE, CE), shape (batch,)."""
        loss = logits.new_zeros(logits.shape[0])
        if self.bce_idx.numel():
            loss = loss + F.binary_cross_entropy_with_logits(
                logits[:, self.bce_idx], target[:, self.bce_idx], reduction="none"
            ).sum(dim=1)
        if self.mse_idx.numel():
            pred = torch.sigmoid(logits[:, self.mse_idx])
            loss = loss + ((pred - target[:, self.mse_idx]) ** 2).sum(dim=1)
        for start, width in self.blocks:
            block_target = target[:, start : start + width]
            logp = F.log_softmax(logits[:, start : start + width], dim=1)
            loss = loss - (block_target * logp).sum(dim=1)
        return loss


class ReconstructionLoss(nn.Module):
    """Criterion with a ``reduction`` attribute, as Opacus ghost clipping expects ('none' → per record)."""

    def __init__(self, head: LayoutHead, reduction: str = "mean") -> None:
        super().__init__()
        self.head = head
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per_sample = self.head.per_sample_loss(logits, target)
        if self.reduction == "none":
            return per_sample
        if self.reduction == "sum":
            return per_sample.sum()
        return per_sample.mean()
