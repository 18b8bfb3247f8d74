"""Class-conditional synthetic images on the same trainers and DP code as the tabular medGAN (docs/design.md §7).

- :class:`ImageGAN` — ``ImageGAN(...).fit(images, labels)``, ``.sample(n, label=None)``, ``.save(dir)``.
- :func:`load` — load a model directory written by :meth:`ImageGAN.save`.
- :func:`load_images` / :func:`load_npz` / :func:`load_folder` — MedMNIST-style ``.npz`` and PNG/JPEG folders.
- :func:`evaluate` — TSTR/TRTR AUC, Fréchet distance in a real-trained CNN's feature space, memorisation.

Imported lazily so that ``import ehrsynth.imaging`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ehrsynth._lazy import lazy_getattr

_LAZY = {
    "ImageGAN": ("ehrsynth.imaging.estimator", "ImageGAN"),
    "load": ("ehrsynth.imaging.estimator", "load"),
    "ImageSet": ("ehrsynth.imaging.loaders", "ImageSet"),
    "load_images": ("ehrsynth.imaging.loaders", "load_images"),
    "load_npz": ("ehrsynth.imaging.loaders", "load_npz"),
    "load_folder": ("ehrsynth.imaging.loaders", "load_folder"),
    "evaluate": ("ehrsynth.imaging.evaluation", "evaluate"),
}

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.imaging.estimator import ImageGAN, load
    from ehrsynth.imaging.evaluation import evaluate
    from ehrsynth.imaging.loaders import ImageSet, load_folder, load_images, load_npz


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["ImageGAN", "ImageSet", "evaluate", "load", "load_folder", "load_images", "load_npz"]
