"""Loading MedMNIST-style .npz files and PNG/JPEG class folders, with clear errors on bad input."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ehrsynth.errors import InvalidDataError, UnsupportedFileError
from ehrsynth.imaging.loaders import available_splits, check_images, check_labels, load_images, load_npz
from ehrsynth.imaging.output import write_png_folder, write_samples_npz
from ehrsynth.imaging.png import encode_png


def _npz(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_grayscale_and_rgb_with_both_label_shapes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    rgb = rng.integers(0, 256, (6, 28, 28, 3), dtype=np.uint8)
    p = _npz(
        tmp_path / "d.npz",
        train_images=gray,
        train_labels=np.arange(6).reshape(6, 1) % 2,
        test_images=rgb,
        test_labels=np.arange(6) % 3,
    )
    train, test = load_npz(p, "train"), load_npz(p, "test")
    assert train.images.shape == (6, 28, 28) and train.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert test.images.shape == (6, 28, 28, 3) and test.labels.shape == (6,)
    assert available_splits(p) == ["train", "test"]


def test_npz_errors_name_the_problem(tmp_path: Path) -> None:
    imgs = np.zeros((4, 28, 28), dtype=np.uint8)
    p = _npz(tmp_path / "a.npz", images=imgs, labels=np.zeros(4))
    with pytest.raises(
        InvalidDataError, match=r"no train_images and no train_labels; found keys \['images', 'labels'\]"
    ):
        load_npz(p)
    p = _npz(tmp_path / "b.npz", train_images=imgs, train_labels=np.zeros(3, dtype=int))
    with pytest.raises(InvalidDataError, match="3 entries for 4 images") as info:
        load_npz(p)
    assert info.value.column == "train_labels"
    p = _npz(tmp_path / "c.npz", train_images=np.zeros((4, 28, 20), dtype=np.uint8), train_labels=np.zeros(4))
    with pytest.raises(InvalidDataError, match="square"):
        load_npz(p)
    p = _npz(
        tmp_path / "d.npz", train_images=np.zeros((4, 3, 28, 28), dtype=np.uint8), train_labels=np.zeros(4)
    )
    with pytest.raises(InvalidDataError, match="channel axis last"):
        load_npz(p)
    p = _npz(tmp_path / "e.npz", train_images=imgs.astype(np.float32) / 255, train_labels=np.zeros(4))
    with pytest.raises(InvalidDataError, match="uint8"):
        load_npz(p)
    (tmp_path / "f.npz").write_text("not a zip")
    with pytest.raises(UnsupportedFileError, match=r"not a readable \.npz"):
        load_npz(tmp_path / "f.npz")
    with pytest.raises(InvalidDataError, match="does not exist"):
        load_npz(tmp_path / "missing.npz")
    with pytest.raises(UnsupportedFileError, match=r"neither a \.npz"):
        (tmp_path / "x.csv").write_text("a\n1\n")
        load_images(tmp_path / "x.csv")


def test_label_checks() -> None:
    assert check_labels(np.array([[1.0], [2.0]]), 2).dtype == np.int64
    assert check_labels(np.array(["a", "b"]), 2).tolist() == ["a", "b"]
    with pytest.raises(InvalidDataError, match="non-integer"):
        check_labels(np.array([0.5, 1.0]), 2)
    with pytest.raises(InvalidDataError, match="multi-label"):
        check_labels(np.zeros((2, 3)), 2)
    assert check_images(np.full((1, 8, 8), 255, dtype=np.int64)).dtype == np.uint8
    with pytest.raises(InvalidDataError, match="at least 8 px"):
        check_images(np.zeros((1, 4, 4), dtype=np.uint8))


def test_png_folder_round_trip_with_splits(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    labels = np.array(["normal", "pneumonia", "normal", "pneumonia", "pneumonia"])
    (tmp_path / "data").mkdir()  # like every output path, its parent must exist
    write_png_folder(tmp_path / "data" / "train", imgs, labels)
    write_png_folder(tmp_path / "data" / "test", imgs[:2], labels[:2])
    assert available_splits(tmp_path / "data") == ["train", "test"]
    train = load_images(tmp_path / "data", "train")
    order = np.argsort(labels, kind="stable")  # files are read class by class
    assert np.array_equal(train.images, imgs[order]) and train.labels.tolist() == sorted(labels.tolist())
    with pytest.raises(InvalidDataError, match="no 'val' split"):
        load_images(tmp_path / "data", "val")


def test_folder_errors_and_resizing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.png").write_bytes(encode_png(np.zeros((20, 30), dtype=np.uint8)))
    (root / "a" / "y.png").write_bytes(encode_png(np.full((16, 16), 200, dtype=np.uint8)))
    (root / "a" / ".DS_Store").write_bytes(b"ignored")
    with pytest.raises(InvalidDataError, match="image_size"):
        load_images(root)
    got = load_images(root, image_size=12)
    assert got.images.shape == (2, 12, 12) and int(got.images[1].min()) == 200
    (root / "a" / "notes.txt").write_text("hello")
    with pytest.raises(UnsupportedFileError, match=r"notes\.txt.*not an image file"):
        load_images(root, image_size=12)
    (root / "a" / "notes.txt").unlink()
    (root / "a" / "bad.png").write_text("not really")
    with pytest.raises(UnsupportedFileError, match="not a PNG"):
        load_images(root, image_size=12)
    (root / "a" / "bad.png").unlink()
    (root / "a" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 fake")
    real_import = builtins.__import__

    def no_pil(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(UnsupportedFileError, match=r"pip install ehrsynth\[images\]"):
        load_images(root, image_size=12)
    monkeypatch.undo()
    (root / "a" / "photo.jpg").unlink()
    (root / "stray.png").write_bytes(encode_png(np.zeros((8, 8), dtype=np.uint8)))
    with pytest.raises(UnsupportedFileError, match="subfolder named after its class"):
        load_images(root)


def test_jpeg_through_pillow_when_installed(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    (tmp_path / "c").mkdir()
    pil.fromarray(np.full((10, 10, 3), 90, dtype=np.uint8)).save(tmp_path / "c" / "a.jpg", quality=95)
    got = load_images(tmp_path)
    assert got.images.shape == (1, 10, 10, 3) and abs(int(got.images.mean()) - 90) <= 2


def test_samples_npz_is_pickle_free(tmp_path: Path) -> None:
    write_samples_npz(tmp_path / "s.npz", np.zeros((3, 8, 8), np.uint8), np.array(["a", "b", "a"]))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as d:
        assert d["images"].shape == (3, 8, 8) and d["labels"].tolist() == ["a", "b", "a"]
    with pytest.raises(InvalidDataError, match="folder name"):
        write_png_folder(tmp_path / "out", np.zeros((1, 8, 8), np.uint8), np.array(["../x"]))
