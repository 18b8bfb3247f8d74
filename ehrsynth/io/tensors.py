"""safetensors helpers; the code lives in :mod:`ehrsynth.fsutil.tensors` (the lowest layer, so that training
checkpoints can use it without importing :mod:`ehrsynth.io`), re-exported here."""

from ehrsynth.fsutil.tensors import (
    load_optimizer_state,
    load_tensors,
    optimizer_state,
    prefixed,
    save_tensors,
    unprefixed,
)

__all__ = [
    "load_optimizer_state",
    "load_tensors",
    "optimizer_state",
    "prefixed",
    "save_tensors",
    "unprefixed",
]
