"""Image data sets from MedMNIST-style ``.npz`` files and from folders of PNG/JPEG files.

``.npz`` (read with ``allow_pickle=False``): keys ``{split}_images`` and ``{split}_labels`` for the splits
``train``, ``val`` and ``test``; images ``uint8`` of shape ``(N, H, W)`` (grayscale), ``(N, H, W, 1)`` or
``(N, H, W, 3)`` (RGB) with ``H == W``; labels integers of shape ``(N,)`` or ``(N, 1)``.

Folders: ``ROOT/<class>/<image>.png`` — the label of an image is the name of its subfolder. A folder with
``train/`` (and ``val/``, ``test/``) subfolders holding class folders gives those splits; otherwise the whole
folder is the ``train`` split. PNG is read by :mod:`ehrsynth.imaging.png`; JPEG needs Pillow
(``pip install ehrsynth[images]``). Hidden files (``.name``) are skipped; any other file that is not an image
is an error. Images of different sizes, or non-square ones, need ``image_size``: each is centre-cropped to a
square and resized (bilinear, antialiased) to ``image_size`` px. If some images are RGB and others grayscale,
all become RGB.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ehrsynth.errors import InvalidDataError, InvalidParameterError, UnsupportedFileError
from ehrsynth.imaging.png import decode_png, is_png

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
PNG_SUFFIXES = (".png",)
JPEG_SUFFIXES = (".jpg", ".jpeg")
MIN_SIDE = 8


@dataclass(frozen=True)
class ImageSet:
    """``images``: uint8 ``(N, H, W)`` or ``(N, H, W, C)``, C in {1, 3}; ``labels``: ``(N,)`` label values."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])


def check_images(images: object, what: str = "images") -> np.ndarray:
    """Validate an image array: uint8 (or integers in 0..255), (N, H, W) or (N, H, W, 1|3), square, N >= 1."""
    arr = np.asarray(images)
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[3] not in (1, 3)):
        raise InvalidDataError(
            f"{what} must have shape (N, H, W) for grayscale or (N, H, W, 3) for RGB (also (N, H, W, 1)), "
            f"found shape {arr.shape}; move the channel axis last",
            column=what,
        )
    if arr.shape[0] == 0:
        raise InvalidDataError(f"{what} holds no images", column=what)
    if arr.shape[1] != arr.shape[2]:
        raise InvalidDataError(
            f"{what} must be square, found {arr.shape[1]}x{arr.shape[2]} px; pad or crop them to H == W",
            column=what,
        )
    if arr.shape[1] < MIN_SIDE:
        raise InvalidDataError(f"{what} are {arr.shape[1]} px; at least {MIN_SIDE} px needed", column=what)
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
            raise InvalidDataError(
                f"{what} must be uint8 pixel values 0..255, found dtype {arr.dtype}"
                + (f" with values {arr.min()}..{arr.max()}" if arr.size else "")
                + "; scale them to 0..255 and convert with .astype(np.uint8)",
                column=what,
            )
        arr = arr.astype(np.uint8)
    return arr


def check_labels(labels: object, n: int, what: str = "labels") -> np.ndarray:
    """Labels of shape (N,) or (N, 1): integers or strings, no missing values; returned as (N,)."""
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidDataError(
            f"{what} must have shape (N,) or (N, 1), found {arr.shape}; multi-label data is not supported",
            column=what,
        )
    if arr.shape[0] != n:
        raise InvalidDataError(f"{what} has {arr.shape[0]} entries for {n} images", column=what)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InvalidDataError(
                f"{what} must be integer class labels (or strings), found non-integer floats", column=what
            )
        arr = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_):
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "U":
        pass
    else:
        raise InvalidDataError(f"{what} must be integers or strings, found dtype {arr.dtype}", column=what)
    return arr


# -- .npz ---------------------------------------------------------------------------------------------------
def load_npz(path: str | os.PathLike[str], split: str = "train") -> ImageSet:
    """The ``split`` of a MedMNIST-style ``.npz`` file."""
    if split not in SPLITS:
        raise InvalidParameterError(f"split must be one of {SPLITS}, found {split!r}")
    p = Path(path)
    if not p.is_file():
        raise InvalidDataError(f"image data file {str(p)!r} does not exist")
    try:
        with np.load(p, allow_pickle=False) as data:
            keys = sorted(data.files)
            image_key, label_key = f"{split}_images", f"{split}_labels"
            missing = [k for k in (image_key, label_key) if k not in keys]
            if missing:
                raise InvalidDataError(
                    f"{str(p)!r} has no {' and no '.join(missing)}; found keys {keys}. A MedMNIST-style file "
                    "holds train_images/train_labels (and val_*, test_*)",
                    column=missing[0],
                )
            raw_images, raw_labels = data[image_key], data[label_key]
    except (OSError, ValueError) as exc:
        if isinstance(exc, InvalidDataError):
            raise
        raise UnsupportedFileError(f"{str(p)!r} is not a readable .npz file without pickles: {exc}") from exc
    images = check_images(raw_images, image_key)
    return ImageSet(images, check_labels(raw_labels, images.shape[0], label_key))


def npz_splits(path: str | os.PathLike[str]) -> list[str]:
    with np.load(Path(path), allow_pickle=False) as data:
        return [s for s in SPLITS if f"{s}_images" in data.files and f"{s}_labels" in data.files]


# -- folders ------------------------------------------------------------------------------------------------
def _decode(path: Path) -> np.ndarray:
    data = path.read_bytes()
    if is_png(data):
        return decode_png(data, str(path))
    if path.suffix.lower() in PNG_SUFFIXES:
        raise UnsupportedFileError(f"{str(path)!r} is named .png but is not a PNG file")
    try:
        from PIL import Image
    except ImportError:
        raise UnsupportedFileError(
            f"{str(path)!r}: reading JPEG needs Pillow; install it with `pip install ehrsynth[images]` "
            "(or `pip install pillow`), or convert the images to PNG"
        ) from None
    import io

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
            return np.asarray(im.convert("L" if gray else "RGB"))
    except Exception as exc:
        raise UnsupportedFileError(f"{str(path)!r} is not a readable image: {exc}") from exc


def _square_resize(img: np.ndarray, size: int) -> np.ndarray:
    import torch
    from torch.nn import functional as F

    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = img[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(crop)
    t = torch.from_numpy(np.ascontiguousarray(crop)).float()
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    out = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    out = out.round().clamp(0, 255).to(torch.uint8)[0]
    return (out[0] if img.ndim == 2 else out.permute(1, 2, 0)).numpy()


def _class_dirs(root: Path) -> tuple[list[Path], list[Path]]:
    dirs: list[Path] = []
    stray: list[Path] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        (dirs if entry.is_dir() else stray).append(entry)
    return dirs, stray


def _image_files(folder: Path) -> list[Path]:
    files = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix.lower() not in PNG_SUFFIXES + JPEG_SUFFIXES:
            raise UnsupportedFileError(
                f"{str(entry)!r} is not an image file (.png, .jpg, .jpeg); class folders may hold only images: "
                "move it elsewhere"
            )
        files.append(entry)
    return files


def folder_splits(path: str | os.PathLike[str]) -> list[str]:
    root = Path(path)
    names = {d.name for d in _class_dirs(root)[0]}
    return [s for s in SPLITS if s in names] if "train" in names else ["train"]


def load_folder(
    path: str | os.PathLike[str], split: str = "train", image_size: int | None = None
) -> ImageSet:
    """Images under ``ROOT[/split]/<class>/``; labels are the class folder names (strings)."""
    root = Path(path)
    if not root.is_dir():
        raise InvalidDataError(f"image folder {str(root)!r} does not exist")
    splits = folder_splits(root)
    if split not in splits:
        raise InvalidDataError(f"image folder {str(root)!r} has no {split!r} split; found {splits}")
    base = root / split if (root / "train").is_dir() else root
    classes, stray = _class_dirs(base)
    if stray:
        raise UnsupportedFileError(
            f"{str(stray[0])!r} lies directly in {str(base)!r}; put every image in a subfolder named after its "
            "class (ROOT/<class>/<image>.png)"
        )
    if not classes:
        raise InvalidDataError(
            f"image folder {str(base)!r} has no class subfolders (ROOT/<class>/<image>.png)"
        )
    images: list[np.ndarray] = []
    labels: list[str] = []
    for folder in classes:
        for file in _image_files(folder):
            images.append(_decode(file))
            labels.append(folder.name)
    if not images:
        raise InvalidDataError(f"the class folders under {str(base)!r} hold no images")
    return ImageSet(_stack(images, image_size, str(base)), np.asarray(labels))


def _stack(images: list[np.ndarray], image_size: int | None, where: str) -> np.ndarray:
    sizes = Counter(img.shape[:2] for img in images)
    if image_size is None:
        (h, w), _ = sizes.most_common(1)[0]
        if len(sizes) > 1 or h != w:
            found = ", ".join(f"{a}x{b}" for a, b in list(sizes)[:5])
            raise InvalidDataError(
                f"the images under {where!r} are not all square and of one size (found {found}); pass "
                "image_size (CLI: --image-size) to centre-crop and resize them all"
            )
        size = h
    else:
        size = int(image_size)
    rgb = any(img.ndim == 3 for img in images)
    out = []
    for img in images:
        if rgb and img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(_square_resize(img, size) if img.shape[:2] != (size, size) else img)
    return check_images(np.stack(out), "images")


# -- either -------------------------------------------------------------------------------------------------
def available_splits(path: str | os.PathLike[str]) -> list[str]:
    p = Path(path)
    return folder_splits(p) if p.is_dir() else npz_splits(p)


def load_images(
    path: str | os.PathLike[str], split: str = "train", image_size: int | None = None
) -> ImageSet:
    """``split`` of an ``.npz`` file or an image folder (``image_size`` applies to folders only)."""
    p = Path(path)
    if p.is_dir():
        return load_folder(p, split, image_size)
    if p.suffix.lower() == ".npz":
        return load_npz(p, split)
    if not p.exists():
        raise InvalidDataError(f"image data {str(p)!r} does not exist")
    raise UnsupportedFileError(
        f"{str(p)!r} is neither a .npz file nor a folder of class subfolders with PNG/JPEG images"
    )
