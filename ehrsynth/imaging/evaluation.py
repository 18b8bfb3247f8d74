"""Utility and memorisation of synthetic images against a real train/test split (docs/design.md §7).

- ``trtr_auc``: the small CNN of :mod:`ehrsynth.imaging.classifier` trained on the real training split, tested
  on the real test split (the ceiling). ``tstr_auc``: the same CNN, same settings, trained ONLY on the synthetic
  images and tested on the same real test split. Binary: AUC of class index 1 (the second class in sorted
  order); more classes: macro one-vs-rest AUC. TSTR needs synthetic images of every class (else ``None``, with a
  note).
- ``frechet_distance``: between the synthetic images and the real test images of the classes the synthetic set
  holds, in the 64-unit feature space of the real-trained CNN (no pretrained network). Beside it
  ``frechet_distance_real_baseline``: a random subset of the real training split (same classes, as many images
  as the synthetic set, at most all) against the same test images — the value real data reaches at that size.
- ``memorisation``: each synthetic image's nearest training image against its nearest held-out image, see
  :func:`ehrsynth.imaging.metrics.memorisation`. The held-out images are the ``val`` split when there is one
  (drawn from the same pool as ``train`` in MedMNIST, so the check is not confounded by a shift between the
  train and test populations), else the ``test`` split; ``memorisation.holdout_split`` says which.

Real and synthetic images must have the same size and channels (``ehrsynth imaging sample`` writes them so).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ehrsynth.errors import InvalidDataError, UnsupportedFileError
from ehrsynth.imaging.classifier import auc, predict, train_cnn
from ehrsynth.imaging.layout import to_model
from ehrsynth.imaging.loaders import ImageSet, available_splits, check_images, check_labels, load_images
from ehrsynth.imaging.metrics import frechet_distance, memorisation

logger = logging.getLogger(__name__)

RealInput = str | os.PathLike[str] | Mapping[str, Any]
SyntheticInput = str | os.PathLike[str] | ImageSet | tuple[Any, Any]


def _as_set(value: Any, what: str) -> ImageSet:
    if isinstance(value, ImageSet):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        images = check_images(value[0], f"{what} images")
        return ImageSet(images, check_labels(value[1], images.shape[0], f"{what} labels"))
    raise InvalidDataError(
        f"{what} must be an ImageSet or an (images, labels) pair, found {type(value).__name__}"
    )


def real_splits(real: RealInput) -> dict[str, ImageSet]:
    """``train``, ``test`` and, when present, ``val`` from a path (.npz, or a folder with train/ and test/) or a
    mapping with those keys (ImageSets or (images, labels) pairs)."""
    if isinstance(real, Mapping):
        missing = [k for k in ("train", "test") if k not in real]
        if missing:
            raise InvalidDataError(f"the real data mapping needs keys 'train' and 'test'; missing {missing}")
        return {k: _as_set(real[k], f"real {k}") for k in ("train", "val", "test") if k in real}
    p = Path(real)
    train = load_images(p, "train")  # raises the clear errors for missing / unsupported paths
    names = available_splits(p)
    if "test" not in names:
        raise InvalidDataError(
            f"evaluation needs a real test split: {str(p)!r} has no test_images/test_labels (.npz) or test/ "
            "folder (ROOT/test/<class>/...)"
        )
    return {"train": train, **{k: load_images(p, k) for k in names if k != "train"}}


def load_synthetic(path: str | os.PathLike[str]) -> ImageSet:
    """Synthetic images: an ``.npz`` with ``images`` and ``labels`` (as ``ehrsynth imaging sample`` writes),
    a MedMNIST-style ``.npz`` (its train split) or a folder of class subfolders."""
    p = Path(path)
    if p.is_dir():
        return load_images(p, "train")
    if not p.is_file():
        raise InvalidDataError(f"synthetic image file {str(p)!r} does not exist")
    try:
        with np.load(p, allow_pickle=False) as data:
            keys = sorted(data.files)
            if "images" in keys and "labels" in keys:
                images = check_images(data["images"], "images")
                return ImageSet(images, check_labels(data["labels"], images.shape[0], "labels"))
    except (OSError, ValueError) as exc:
        if isinstance(exc, InvalidDataError):
            raise
        raise UnsupportedFileError(f"{str(p)!r} is not a readable .npz file without pickles: {exc}") from exc
    if "train_images" in keys:
        return load_images(p, "train")
    raise InvalidDataError(
        f"{str(p)!r} has neither 'images' + 'labels' nor 'train_images'; found keys {keys}"
    )


def _shape(s: ImageSet) -> tuple[int, int]:
    return int(s.images.shape[1]), 1 if s.images.ndim == 3 else int(s.images.shape[3])


def _flat01(images: np.ndarray) -> np.ndarray:
    return images.reshape(images.shape[0], -1).astype(np.float32) / 255.0


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def evaluate(
    real: RealInput,
    synthetic: SyntheticInput,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    random_state: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """TSTR/TRTR AUC, Fréchet distance and memorisation of ``synthetic`` against ``real`` (see module doc).
    Returns a JSON-able dict with keys ``tstr_auc``, ``trtr_auc``, ``frechet_distance``, ``memorisation`` and
    details."""
    from ehrsynth.training.device import resolve_device

    splits, holdout_name, syn = _load_checked(real, synthetic)
    train, test = splits["train"], splits["test"]
    values = sorted({_plain(v) for v in train.labels.tolist()}, key=lambda v: (isinstance(v, str), v))
    k = len(values)
    if k < 2:
        raise InvalidDataError(f"the real training split holds one class ({values}); AUC needs at least two")
    y_train, y_test, y_syn = (
        _class_index(s, what, values)
        for s, what in ((train, "real train"), (test, "real test"), (syn, "synthetic"))
    )
    size = _shape(train)[0]
    x_train, x_test, x_syn = (to_model(s.images, size) for s in (train, test, syn))
    dev = resolve_device(device)
    tgen = torch.Generator().manual_seed(int(random_state))
    rng = np.random.default_rng(random_state)
    notes: list[str] = []

    real_cnn = train_cnn(
        x_train, y_train, k, epochs=epochs, batch_size=batch_size, generator=tgen, device=dev
    )
    p_test, f_test = predict(real_cnn, x_test, dev)
    trtr = auc(y_test, p_test)
    present = sorted(set(y_syn.tolist()))
    tstr: float | None = None
    if len(present) == k:
        syn_cnn = train_cnn(x_syn, y_syn, k, epochs=epochs, batch_size=batch_size, generator=tgen, device=dev)
        tstr = auc(y_test, predict(syn_cnn, x_test, dev)[0])
    else:
        notes.append(
            f"tstr_auc is null: the synthetic set holds only classes {[values[i] for i in present]} of {values}; "
            "sample every class (e.g. `ehrsynth imaging sample DIR -n N` without --label) for TSTR"
        )
    _, f_syn = predict(real_cnn, x_syn, dev)
    _, f_train = predict(real_cnn, x_train, dev)
    frechet = _frechet(f_train, f_test, f_syn, (y_train, y_test, y_syn), present, values, rng, notes)
    mem = {
        "holdout_split": holdout_name,
        **memorisation(_flat01(syn.images), _flat01(train.images), _flat01(splits[holdout_name].images), rng),
    }
    return {
        "tstr_auc": tstr,
        "trtr_auc": trtr,
        "frechet_distance": frechet["frechet_distance"],
        "memorisation": mem,
        **frechet,
        "auc": "binary (positive class: " + str(values[1]) + ")" if k == 2 else "macro one-vs-rest",
        "classes": values,
        "n_real_train": len(y_train),
        "n_real_test": len(y_test),
        "n_synthetic": len(y_syn),
        "synthetic_class_counts": {str(values[c]): int((y_syn == c).sum()) for c in present},
        "classifier": {"epochs": epochs, "batch_size": batch_size, "features": int(f_syn.shape[1])},
        "random_state": int(random_state),
        "notes": notes,
    }


def _load_checked(real: RealInput, synthetic: SyntheticInput) -> tuple[dict[str, ImageSet], str, ImageSet]:
    """(the real splits, the name of the held-out split for memorisation, the synthetic set), checked to have
    one image size and channel count."""
    splits = real_splits(real)
    train, test = splits["train"], splits["test"]
    holdout_name = "val" if "val" in splits else "test"
    syn = (
        load_synthetic(synthetic)
        if isinstance(synthetic, (str, os.PathLike))
        else _as_set(synthetic, "synthetic")
    )
    if not (_shape(train) == _shape(test) == _shape(splits[holdout_name]) == _shape(syn)):
        raise InvalidDataError(
            f"real train, real test and synthetic images differ in (size, channels): {_shape(train)}, "
            f"{_shape(test)}, {_shape(syn)}; sample the synthetic images from a model fitted on this data"
        )
    return splits, holdout_name, syn


def _class_index(s: ImageSet, what: str, values: list[Any]) -> np.ndarray:
    """Position in ``values`` (the real training classes) of each label of ``s``."""
    lookup = {str(v): i for i, v in enumerate(values)}
    idx = np.array([lookup.get(str(v), -1) for v in s.labels.tolist()], dtype=np.int64)
    if (idx < 0).any():
        bad = sorted({str(v) for v, i in zip(s.labels.tolist(), idx, strict=True) if i < 0})
        raise InvalidDataError(
            f"{what} labels {bad[:10]} are not classes of the real training split {values}"
        )
    return idx


def _frechet(
    f_train: np.ndarray,
    f_test: np.ndarray,
    f_syn: np.ndarray,
    labels: tuple[np.ndarray, np.ndarray, np.ndarray],
    present: list[int],
    values: list[Any],
    rng: np.random.Generator,
    notes: list[str],
) -> dict[str, Any]:
    """Fréchet distance of the synthetic features to the real test features of the classes present, the same
    for a random real-train subset of the synthetic set's size (baseline), and per class."""
    y_train, y_test, y_syn = labels
    in_test = np.isin(y_test, present)
    in_train = np.flatnonzero(np.isin(y_train, present))
    base_idx = rng.choice(in_train, size=min(len(in_train), len(y_syn)), replace=False)
    fd = frechet_distance(f_syn, f_test[in_test])
    fd_base = frechet_distance(f_train[base_idx], f_test[in_test])
    per_class = {
        str(values[c]): frechet_distance(f_syn[y_syn == c], f_test[y_test == c])
        for c in present
        if (y_syn == c).sum() > 1 and (y_test == c).sum() > 1
    }
    if len(y_syn) <= f_syn.shape[1]:
        notes.append(
            f"frechet_distance from {len(y_syn)} synthetic images in a {f_syn.shape[1]}-d feature space: the "
            "covariance is rank-deficient and the value is biased upwards; compare it with the baseline"
        )
    return {
        "frechet_distance": fd,
        "frechet_distance_real_baseline": fd_base,
        "frechet_distance_per_class": per_class,
    }
