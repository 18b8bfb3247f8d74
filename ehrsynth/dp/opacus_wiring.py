"""Wiring a module for DP-SGD with Opacus ghost clipping (docs/design.md §4 rules 2–5).

We assemble Opacus' pieces ourselves instead of calling ``PrivacyEngine.make_private`` because the library
owns batch sampling (seeded Poisson sampling, one fresh batch per optimizer step) and accounting (the
``privacy.json`` history): the Opacus data loader and accountant are not used.

Ghost clipping (``GradSampleModuleFastGradientClipping``) computes per-sample gradient norms without
materialising per-sample gradients for ``nn.Linear``/``nn.Embedding``; other layers (e.g. Conv2d, GroupNorm)
fall back to Opacus' per-sample gradient samplers inside the same module, so the update is the same clipped,
noised step either way. Every record-level loss term of one step must go through ONE call of the returned
criterion and ONE ``backward`` before ``optimizer.step()``.

Opacus ``secure_mode`` needs torchcsprng, which does not support torch 2.x: the noise comes from a seeded
``torch.Generator`` (documented floating-point and RNG caveat; see README "Privacy guarantee").
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ehrsynth.errors import InvalidParameterError


@dataclass
class PrivateParts:
    module: Any  # GradSampleModuleFastGradientClipping
    optimizer: Any  # DPOptimizerFastGradientClipping
    criterion: Any  # DPLossFastGradientClipping

    def close(self) -> None:
        """Remove Opacus hooks so the raw module can be used (e.g. fine-tuned as post-processing)."""
        self.module._close()


def check_dp_compatible(module: nn.Module, name: str) -> None:
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            raise InvalidParameterError(
                f"the {name} contains BatchNorm, which mixes records within a batch and breaks DP-SGD's "
                "per-sample clipping; use GroupNorm/LayerNorm or no normalisation"
            )
        if getattr(sub, "minibatch_averaging", False):
            raise InvalidParameterError(
                f"minibatch averaging in the {name} is incompatible with DP-SGD (each row's output depends on "
                "the whole batch); set minibatch_averaging=False or train without DP"
            )


def make_private(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    *,
    noise_multiplier: float,
    max_grad_norm: float,
    expected_batch_size: int,
    generator: torch.Generator,
    name: str,
) -> PrivateParts:
    from opacus.grad_sample import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizerFastGradientClipping
    from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping

    check_dp_compatible(module, name)
    gsm = GradSampleModuleFastGradientClipping(
        module, loss_reduction="mean", max_grad_norm=max_grad_norm, use_ghost_clipping=True
    )
    dp_opt = DPOptimizerFastGradientClipping(
        optimizer,
        noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm,
        expected_batch_size=expected_batch_size,
        loss_reduction="mean",
        generator=generator,
    )
    dp_criterion = DPLossFastGradientClipping(gsm, dp_opt, criterion, loss_reduction="mean")
    return PrivateParts(gsm, dp_opt, dp_criterion)


@contextlib.contextmanager
def quiet_hooks() -> Iterator[None]:
    """Silence PyTorch's notice that a full backward hook fires although the inputs need no gradient: our
    inputs are data (never trainable), which is exactly the case Opacus' hooks are written for."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        yield
