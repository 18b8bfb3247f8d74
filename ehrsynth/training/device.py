"""The one device resolver of the trainers (MedGAN, ImageGAN and the imaging evaluation)."""

from __future__ import annotations

import torch

from ehrsynth.errors import InvalidParameterError


def resolve_device(device: str) -> torch.device:
    """'auto' → CUDA when available, else CPU; 'cpu'; 'cuda' or 'cuda:N' (refused when CUDA is absent)."""
    if not isinstance(device, str):
        raise InvalidParameterError(f"device must be 'auto', 'cpu' or 'cuda[:N]', found {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidParameterError(
            f"device {device!r} was requested but CUDA is not available; use 'cpu' or 'auto'"
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise InvalidParameterError(f"device must be 'auto', 'cpu' or 'cuda[:N]', found {device!r}")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise InvalidParameterError(f"device must be 'auto', 'cpu' or 'cuda[:N]', found {device!r}") from exc
