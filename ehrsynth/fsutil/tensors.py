"""safetensors helpers: flat dicts of tensors in, flat dicts out; optimizer states flattened to tensors+JSON."""

from __future__ import annotations

import os
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ehrsynth.fsutil.atomic import write_with

__all__ = [
    "load_optimizer_state",
    "load_tensors",
    "optimizer_state",
    "prefixed",
    "save_tensors",
    "unprefixed",
]


def save_tensors(path: str | os.PathLike[str], tensors: dict[str, torch.Tensor]) -> None:
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    write_with(path, lambda tmp: save_file(flat, str(tmp)))


def load_tensors(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    return load_file(str(path), device=str(device))


def prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def optimizer_state(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    """Split an optimizer's state dict into tensors (for safetensors) and JSON-able rest."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], meta: Any
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith(prefix + "."):
            continue
        idx, name = key[len(prefix) + 1 :].split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    for idx, entry in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(entry)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
