"""ImageGAN end to end at tiny sizes on CPU: fit/sample layouts, DP record, declared vs DP-released classes,
model-dir round trip and tampering, checkpoint resume (bit-identical without DP), scikit-learn conventions."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from ehrsynth.dp.accounting import compute_epsilon
from ehrsynth.errors import (
    InvalidDataError,
    InvalidParameterError,
    ModelDirError,
    NotFittedError,
    PrivacyBudgetError,
)
from ehrsynth.estimator import NoPrivacyWarning
from ehrsynth.imaging import ImageGAN, load
from ehrsynth.training.progress import ProgressEvent

TINY = {"epochs": 1, "width": 4, "latent_dim": 8, "batch_size": 32, "device": "cpu"}


def toy_images(n: int, size: int = 28, rgb: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: bright top half; class 1: bright bottom half (plus noise)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 60, size=(n, size, size), dtype=np.int64)
    half = size // 2
    images[labels == 0, :half] += 180
    images[labels == 1, half:] += 180
    out = np.clip(images, 0, 255).astype(np.uint8)
    return (np.repeat(out[..., None], 3, axis=3) if rgb else out), labels


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore", NoPrivacyWarning)


def test_fit_sample_layouts_and_reproducibility() -> None:
    x, y = toy_images(64)
    model = ImageGAN(epsilon=None, random_state=0, **TINY)
    assert model.fit(x, y.reshape(-1, 1)) is model
    images, labels = model.sample(5, random_state=1)
    assert images.shape == (5, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1]  # balanced, in class order
    again, _ = ImageGAN(epsilon=None, random_state=0, **TINY).fit(x, y).sample(5, random_state=1)
    assert np.array_equal(images, again)
    _, lab = model.sample(3, label="1", random_state=2)
    assert lab.tolist() == [1, 1, 1]
    with pytest.raises(InvalidParameterError, match=r"not one of the model's classes \[0, 1\]"):
        model.sample(3, label=7)
    with pytest.raises(InvalidParameterError, match="positive integer"):
        model.sample(0)
    assert model.privacy_.epsilon is None and model.history_["gan"]


def test_rgb_channel_axis_and_resized_sizes_come_back_in_the_input_layout() -> None:
    x, y = toy_images(40, size=30, rgb=True)
    model = ImageGAN(epsilon=None, random_state=0, **TINY).fit(x, np.array(["a", "b"] * 20))
    assert model.image_size_ == 32  # 30 px → nearest supported size, trained at 32
    images, labels = model.sample(4, random_state=0)
    assert images.shape == (4, 30, 30, 3) and labels.tolist() == ["a", "a", "b", "b"]
    gray1, _ = toy_images(40)
    one = ImageGAN(epsilon=None, random_state=0, **TINY).fit(gray1[..., None], y[:40])
    assert one.sample(2)[0].shape == (2, 28, 28, 1)


def test_dp_fit_records_every_mechanism() -> None:
    x, y = toy_images(200)
    released = ImageGAN(epsilon=8.0, random_state=0, **TINY).fit(x, y)
    record = released.privacy_
    names = [m.name for m in record.mechanisms]
    assert names == ["domain:classes", "discriminator"]
    assert record.epsilon_spent <= 8.0 and record.epsilon_spent == pytest.approx(8.0, rel=0.01)
    assert compute_epsilon(record.mechanisms, record.delta, record.accountant) == pytest.approx(
        record.epsilon_spent
    )
    assert released.classes_.tolist() == [0, 1]
    declared = ImageGAN(epsilon=8.0, classes=[0, 1, 2], random_state=0, **TINY).fit(x, y)
    assert [m.name for m in declared.privacy_.mechanisms] == ["discriminator"]  # public label set: free
    assert declared.classes_.tolist() == [0, 1, 2]
    steps = declared.privacy_.mechanisms[0]
    assert steps.steps == declared.schedule_["iterations"] and steps.sample_rate == pytest.approx(32 / 200)


def test_dp_refusals() -> None:
    x, y = toy_images(200)
    with pytest.raises(PrivacyBudgetError, match="at least 100"):
        ImageGAN(epsilon=1.0, **TINY).fit(x[:50], y[:50])
    with pytest.raises(InvalidParameterError, match="spectral_norm is not supported under DP"):
        ImageGAN(epsilon=1.0, spectral_norm=True, **TINY).fit(x, y)
    with pytest.raises(InvalidDataError, match=r"labels \['1'\] are not among the declared classes"):
        ImageGAN(epsilon=1.0, classes=[0], **TINY).fit(x, y)
    with pytest.raises(PrivacyBudgetError, match="delta must be in"):
        ImageGAN(epsilon=1.0, delta=0.5, **TINY).fit(x, y)
    with pytest.raises(InvalidParameterError, match="image_size"):
        ImageGAN(epsilon=None, image_size=40, **TINY).fit(x, y)


def test_rare_class_is_not_released_under_dp() -> None:
    x, y = toy_images(300)
    y = y.copy()
    y[:3] = 5  # three images of a rare class: far below the release threshold
    model = ImageGAN(epsilon=4.0, random_state=0, **TINY).fit(x, y)
    assert model.classes_.tolist() == [0, 1] and model.n_samples_seen_ == 297


def test_model_dir_round_trip_and_tamper(tmp_path: Path) -> None:
    x, y = toy_images(120)
    with pytest.raises(NotFittedError):
        ImageGAN().sample(1)
    model = ImageGAN(epsilon=5.0, random_state=0, **TINY).fit(x, y)
    d = tmp_path / "m"
    model.save(str(d))
    assert sorted(p.name for p in d.iterdir()) == [
        "config.json",
        "manifest.json",
        "privacy.json",
        "weights.safetensors",
    ]
    loaded = load(d)
    a, la = loaded.sample(6, random_state=3)
    b, lb = model.sample(6, random_state=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert loaded.privacy_.to_dict() == model.privacy_.to_dict()
    config = json.loads((d / "config.json").read_text())
    assert config["estimator"] == "ImageGAN" and config["fitted"]["classes"] == [0, 1]
    import ehrsynth

    with pytest.raises(ModelDirError, match=r"not a MedGAN model.*ehrsynth\.imaging\.load"):
        ehrsynth.load(d)
    (d / "privacy.json").write_text(json.dumps({**model.privacy_.to_dict(), "epsilon_spent": 0.1}))
    with pytest.raises(ModelDirError, match=r"privacy\.json .* does not match its sha256"):
        load(d)


def test_resume_from_checkpoint_is_bit_identical(tmp_path: Path) -> None:
    x, y = toy_images(96)
    settings = {**TINY, "epochs": 3, "checkpoint_every": 2}
    full = ImageGAN(epsilon=None, random_state=0, **settings).fit(x, y)

    class Stop(Exception):
        pass

    def stop(event: ProgressEvent) -> None:
        if event.step >= 5:
            raise Stop

    ckpt = tmp_path / "ckpt"
    with pytest.raises(Stop):
        ImageGAN(epsilon=None, random_state=0, checkpoint_dir=str(ckpt), progress=stop, **settings).fit(x, y)
    assert (ckpt / "checkpoint.json").is_file()
    events: list[ProgressEvent] = []
    resumed = ImageGAN(
        epsilon=None, random_state=0, checkpoint_dir=str(ckpt), progress=events.append, **settings
    ).fit(x, y)
    assert min(e.step for e in events) >= 4  # did not start over
    assert np.array_equal(resumed.sample(8, random_state=0)[0], full.sample(8, random_state=0)[0])
    assert resumed.history_ == full.history_
    assert not (ckpt / "checkpoint.json").exists()
    with pytest.raises(Stop):
        ImageGAN(epsilon=None, random_state=0, checkpoint_dir=str(ckpt), progress=stop, **settings).fit(x, y)
    with pytest.raises(ModelDirError, match="other settings or data"):
        ImageGAN(epsilon=None, random_state=1, checkpoint_dir=str(ckpt), **settings).fit(x, y)


def test_sklearn_conventions() -> None:
    model = ImageGAN(epsilon=None, width=8)
    assert model.get_params()["width"] == 8 and "width=8" in repr(model)
    assert model.set_params(width=4) is model and model.width == 4
    assert not hasattr(model, "generator_")  # __init__ stores parameters only
    with pytest.raises(InvalidParameterError, match="unknown parameter"):
        model.set_params(bogus=1)
