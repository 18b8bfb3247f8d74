"""Writing synthetic images: an ``.npz`` (``images`` uint8 in the training data's layout, ``labels``) or a folder
of PNG files ``OUT_DIR/<label>/<index>.png`` (the layout :func:`ehrsynth.imaging.loaders.load_folder` reads)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ehrsynth.errors import InvalidDataError
from ehrsynth.fsutil.atomic import ensure_parent, write_bytes_atomic, write_with
from ehrsynth.imaging.png import encode_png


def write_samples_npz(path: str | os.PathLike[str], images: np.ndarray, labels: np.ndarray) -> None:
    p = Path(path)
    ensure_parent(p)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append .npz to a temporary name
            np.savez_compressed(fh, images=images, labels=np.asarray(labels))

    write_with(p, write)


def _safe_label(label: object) -> str:
    name = str(label)
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidDataError(
            f"label {name!r} cannot be a folder name; write an .npz instead", column="labels"
        )
    return name


def write_png_folder(path: str | os.PathLike[str], images: np.ndarray, labels: np.ndarray) -> None:
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise InvalidDataError(f"{str(root)!r} exists and is not a folder; give OUT.npz or a folder path")
    ensure_parent(root)
    digits = len(str(max(len(images) - 1, 0)))
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / _safe_label(label)
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(folder / f"{i:0{digits}d}.png", encode_png(image))
