"""Training checkpoints: ``checkpoint.safetensors`` (weights, optimizer tensors, RNG state) and
``checkpoint.json`` (counters, history, accountant state, optimizer hyperparameters), written atomically — the
JSON last, so a checkpoint without its JSON is ignored. Checkpoints are private working state: they hold a
discriminator trained on the data and must not be shared; the model directory is what you share.

:func:`save_trainer_checkpoint` / :func:`restore_trainer` capture and restore everything an
:class:`~ehrsynth.training.adversarial.AdversarialTrainer` run needs to continue exactly where it stopped (the
modules, both optimizers, the torch and numpy RNG states, the step counters and the loss history); callers add
their own JSON state (``extra``: e.g. the schema and the DP mechanisms already run). :func:`open_checkpoint`
refuses a checkpoint made with other settings or data (a ``fingerprint`` mismatch). Both the tabular medGAN
and the imaging GANs use these.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ehrsynth.errors import ModelDirError
from ehrsynth.fsutil.atomic import sha256_file, write_text_atomic
from ehrsynth.fsutil.tensors import (
    load_optimizer_state,
    load_tensors,
    optimizer_state,
    prefixed,
    save_tensors,
    unprefixed,
)

if TYPE_CHECKING:
    from ehrsynth.training.adversarial import AdversarialTrainer

logger = logging.getLogger(__name__)

TENSORS = "checkpoint.safetensors"
META = "checkpoint.json"
CHECKPOINT_VERSION = 3  # 3: the fingerprint holds a content hash of the data


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
    try:
        meta = json.loads((d / META).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(
            f"checkpoint in {str(d)!r} is unreadable ({exc}); delete it to start over"
        ) from exc
    if (
        not isinstance(meta, dict)
        or not (d / TENSORS).is_file()
        or sha256_file(d / TENSORS) != meta.get("tensors_sha256")
    ):
        raise ModelDirError(f"checkpoint in {str(d)!r} is incomplete or altered; delete it to start over")
    return load_tensors(d / TENSORS), meta


def generator_state(generator: torch.Generator) -> torch.Tensor:
    return generator.get_state()


def clear_checkpoint(directory: str | Path) -> None:
    d = Path(directory)
    for name in (META, TENSORS):
        if (d / name).exists():
            (d / name).unlink()


# -- a whole adversarial run --------------------------------------------------------------------------------
def table_sha256(df: pd.DataFrame, *parts: Any) -> str:
    """sha256 of a table's content (column names, dtypes and every value, in order) and of ``parts``
    (JSON values, e.g. a declared schema): two tables of the same size but other values differ."""
    digest = hashlib.sha256()
    header = [[str(c), str(t)] for c, t in zip(df.columns, df.dtypes, strict=True)]
    digest.update(json.dumps([header, *parts], sort_keys=True, default=str).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    for column in df.columns:  # per-column hashes too: the row hash alone combines columns lossily
        digest.update(pd.util.hash_pandas_object(df[column], index=False).to_numpy().tobytes())
    return digest.hexdigest()


def array_sha256(*arrays: np.ndarray) -> str:
    """sha256 of arrays' shapes, dtypes and bytes (e.g. training images and their labels)."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.shape}{a.dtype}".encode())
        digest.update(a.tobytes() if a.dtype != object else json.dumps(a.tolist(), default=str).encode())
    return digest.hexdigest()


def fingerprint(settings: Mapping[str, Any], **facts: Any) -> dict[str, Any]:
    """What a checkpoint must have been made with to be resumed: the fit's settings (its frozen config, no
    run-time-only values) and ``facts`` about the data (its size and a content hash, e.g.
    :func:`table_sha256`), as JSON values."""
    return dict(json.loads(json.dumps({**facts, "params": dict(settings)}, default=list)))


def open_checkpoint(
    directory: str | Path | None, fingerprint: Mapping[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The checkpoint in ``directory`` (None when there is none or no directory), refused with
    :class:`ModelDirError` when it was made by another version, with other settings or on other data."""
    if not directory:
        return None
    ckpt = load_checkpoint(directory)
    if ckpt is None:
        return None
    meta = ckpt[1]
    if meta.get("version") != CHECKPOINT_VERSION:
        raise ModelDirError(
            f"the checkpoint in {str(directory)!r} was written by another version of ehrsynth; delete it to "
            "start over"
        )
    if meta.get("fingerprint") != json.loads(json.dumps(fingerprint)):
        raise ModelDirError(
            f"the checkpoint in {str(directory)!r} was made with other settings or data; delete it or "
            "use another checkpoint directory"
        )
    return ckpt


def save_trainer_checkpoint(
    directory: str | Path,
    *,
    modules: Mapping[str, nn.Module],
    trainer: AdversarialTrainer,
    tgen: torch.Generator,
    rng: np.random.Generator,
    fingerprint: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Checkpoint ``modules`` (by name), the trainer's optimizers, counters and history, both RNGs and
    ``extra`` (JSON-able caller state, returned by :func:`restore_trainer`)."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update(prefixed(name, module.state_dict()))
    g_tensors, g_meta = optimizer_state("opt_g", trainer.g_optimizer)
    d_tensors, d_meta = optimizer_state("opt_d", trainer.d_optimizer)
    tensors.update(g_tensors)
    tensors.update(d_tensors)
    tensors["rng.torch"] = tgen.get_state()
    meta = {
        "version": CHECKPOINT_VERSION,
        "fingerprint": dict(fingerprint),
        "iteration": trainer.iteration,
        "d_steps_done": trainer.d_steps_done,
        "optimizers": {"g": g_meta, "d": d_meta},
        "rng_numpy": rng.bit_generator.state,
        "history": trainer.history,
        "extra": dict(extra or {}),
    }
    save_checkpoint(directory, tensors, meta)


def restore_trainer(
    ckpt: tuple[dict[str, torch.Tensor], dict[str, Any]],
    *,
    modules: Mapping[str, nn.Module],
    trainer: AdversarialTrainer,
    tgen: torch.Generator,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Put the state saved by :func:`save_trainer_checkpoint` back; returns its ``extra``."""
    tensors, meta = ckpt
    for name, module in modules.items():
        module.load_state_dict(unprefixed(name, tensors))
    load_optimizer_state(trainer.g_optimizer, "opt_g", tensors, meta["optimizers"]["g"])
    load_optimizer_state(trainer.d_optimizer, "opt_d", tensors, meta["optimizers"]["d"])
    tgen.set_state(tensors["rng.torch"])
    rng.bit_generator.state = meta["rng_numpy"]
    trainer.iteration = int(meta["iteration"])
    trainer.d_steps_done = int(meta["d_steps_done"])
    trainer.history = list(meta["history"])
    logger.info("resuming from checkpoint at GAN iteration %d", trainer.iteration)
    return dict(meta.get("extra", {}))


def checkpoint_hook(
    directory: str | Path | None, every: int, total: int, save: Callable[[], None]
) -> Callable[[int], None] | None:
    """An ``on_iteration`` callback for :meth:`AdversarialTrainer.run` calling ``save()`` every ``every``
    iterations before the last (None without a directory)."""
    if not directory:
        return None

    def on_iteration(iteration: int) -> None:
        if iteration % every == 0 and iteration < total:
            save()

    return on_iteration
