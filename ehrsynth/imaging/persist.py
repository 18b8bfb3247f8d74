"""ImageGAN model directories through the shared :mod:`ehrsynth.io.model_dir` code (manifest with sha256,
privacy.json, safetensors weights; nothing unpickled). Only the generator's weights are stored."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from ehrsynth.errors import ModelDirError
from ehrsynth.io.model_dir import (
    load_weights,
    read_config,
    read_privacy,
    saved_params,
    verify_model_dir,
    write_model_dir,
)
from ehrsynth.training.progress import ProgressCallback

if TYPE_CHECKING:
    from ehrsynth.imaging.estimator import ImageGAN

ESTIMATOR = "ImageGAN"


def save_image_gan(model: ImageGAN, path: str | os.PathLike[str]) -> None:
    params = saved_params(model.get_params())
    if params["classes"] is not None:
        params["classes"] = [c.item() if isinstance(c, np.generic) else c for c in params["classes"]]
    write_model_dir(
        path,
        estimator=ESTIMATOR,
        params=params,
        fitted={
            "classes": model.classes_.tolist(),
            "layout": model.layout_.to_dict(),
            "image_size": int(model.image_size_),
            "schedule": model.schedule_,
            "n_samples_seen": int(model.n_samples_seen_),
        },
        history=model.history_,
        modules={"generator": model.generator_},
        privacy=model.privacy_,
    )


def load(
    path: str | os.PathLike[str], *, device: str = "cpu", progress: ProgressCallback | None = None
) -> ImageGAN:
    """Load a directory written by :meth:`ImageGAN.save` (the manifest is verified first)."""
    from ehrsynth.estimator import resolve_device
    from ehrsynth.imaging.estimator import ImageGAN
    from ehrsynth.imaging.layout import ImageLayout

    d = verify_model_dir(path)
    config = read_config(d, ESTIMATOR, hint=" (tabular models load with ehrsynth.load)")
    try:
        model = ImageGAN(**config["params"])
    except TypeError as exc:
        raise ModelDirError(f"config.json in {str(d)!r} has unknown parameters: {exc}") from exc
    model.device = device
    model.progress = progress
    fitted = config["fitted"]
    try:
        classes = list(fitted["classes"])
        layout = ImageLayout.from_dict(fitted["layout"])
        size = int(fitted["image_size"])
        gen = model._build_generator(len(classes), layout.channels, size)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"config.json in {str(d)!r} is malformed: {exc}") from exc
    load_weights(d, {"generator": gen}, resolve_device(device))
    model.generator_ = gen
    model.classes_ = np.asarray(classes)
    model.layout_ = layout
    model.image_size_ = size
    model.privacy_ = read_privacy(d)
    model.history_ = config.get("history", {})
    model.schedule_ = dict(fitted.get("schedule", {}))
    model.n_samples_seen_ = int(fitted.get("n_samples_seen", 0))
    return model
