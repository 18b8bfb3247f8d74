"""Training checkpoints: ``checkpoint.safetensors`` (weights, optimizer tensors, RNG state) and
``checkpoint.json`` (counters, history, accountant state, optimizer hyperparameters), written atomically — the
JSON last, so a checkpoint without its JSON is ignored. Checkpoints are private working state: they hold a
discriminator trained on the data and must not be shared; the model directory is what you share."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from ehrsynth.errors import ModelDirError
from ehrsynth.io.atomic import sha256_file, write_text_atomic
from ehrsynth.io.tensors import load_tensors, save_tensors

logger = logging.getLogger(__name__)

TENSORS = "checkpoint.safetensors"
META = "checkpoint.json"


def save_checkpoint(directory: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    save_tensors(d / TENSORS, tensors)
    meta = {**meta, "tensors_sha256": sha256_file(d / TENSORS)}
    write_text_atomic(d / META, json.dumps(meta))
    logger.debug("checkpoint written to %s", d)


def load_checkpoint(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    d = Path(directory)
    if not (d / META).is_file():
        return None
    meta = json.loads((d / META).read_text(encoding="utf-8"))
    if not (d / TENSORS).is_file() or sha256_file(d / TENSORS) != meta.get("tensors_sha256"):
        raise ModelDirError(f"checkpoint in {str(d)!r} is incomplete or altered; delete it to start over")
    return load_tensors(d / TENSORS), meta


def generator_state(generator: torch.Generator) -> torch.Tensor:
    return generator.get_state()


def clear_checkpoint(directory: str | Path) -> None:
    d = Path(directory)
    for name in (META, TENSORS):
        if (d / name).exists():
            (d / name).unlink()
