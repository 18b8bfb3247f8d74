"""The measure engine's samples keep the released number of codes per row; the histogram is saved and checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import rewrite_config

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.errors import ModelDirError

FAST = {"device": "cpu", "query_steps": 60}


def three_codes_each(n: int = 1500, k: int = 30, seed: int = 0) -> pd.DataFrame:
    """Every patient holds exactly 3 of ``k`` codes (skewed prevalences), like three diagnosis slots."""
    rng = np.random.default_rng(seed)
    p = np.linspace(2.0, 0.2, k) / np.linspace(2.0, 0.2, k).sum()
    X = np.zeros((n, k), dtype="int64")
    for i in range(n):
        X[i, rng.choice(k, 3, replace=False, p=p)] = 1
    df = pd.DataFrame(X, columns=[f"dx_{j:02d}" for j in range(k)])
    df["age"] = rng.integers(20, 90, n)
    return df


def sizes(df: pd.DataFrame) -> np.ndarray:
    k = df.filter(like="dx_").to_numpy().sum(axis=1).astype(int)
    return np.bincount(k, minlength=12)[:12] / len(k)


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, MedGAN]:
    df = three_codes_each()
    return df, MedGAN(epsilon=3.0, engine="measure", random_state=0, **FAST).fit(df)


def test_samples_hold_the_released_codes_per_row(fitted: tuple[pd.DataFrame, MedGAN]) -> None:
    df, model = fitted
    assert model.row_sizes_ is not None and int(np.argmax(model.row_sizes_)) == 3
    out = model.sample(2000, random_state=1, match_row_sizes=True)
    assert 0.5 * np.abs(sizes(out) - sizes(df)).sum() < 0.05  # plain draws spread over 1..7 codes
    prevalence = out.filter(like="dx_").mean() - df.filter(like="dx_").mean()
    assert np.abs(prevalence).mean() < 0.02  # the 1-way marginals stay where calibration put them
    plain = model.sample(2000, random_state=1)  # the default: medGAN's independent draws
    assert 0.5 * np.abs(sizes(plain) - sizes(df)).sum() > 0.3


def test_the_histogram_is_saved_and_checked_on_load(
    tmp_path: Path, fitted: tuple[pd.DataFrame, MedGAN]
) -> None:
    _, model = fitted
    model.save(str(tmp_path / "m"))
    loaded = ehrsynth.load(str(tmp_path / "m"))
    assert loaded.row_sizes_ == model.row_sizes_
    pd.testing.assert_frame_equal(
        loaded.sample(200, random_state=3, match_row_sizes=True),
        model.sample(200, random_state=3, match_row_sizes=True),
    )

    def rewrite(value: object, drop: bool = False) -> None:
        def change(config: dict) -> None:
            if drop:
                config["fitted"].pop("row_sizes")
            else:
                config["fitted"]["row_sizes"] = value

        rewrite_config(tmp_path / "m", change)

    for bad in (["x", 1.0], [1.0], [-1.0, 0.0], [float("nan"), 1.0], {"3": 1.0}):
        rewrite(bad)
        with pytest.raises(ModelDirError, match="row_sizes"):
            ehrsynth.load(str(tmp_path / "m"))
    rewrite(None, drop=True)  # a directory written before row sizes were kept: plain sampling
    assert ehrsynth.load(str(tmp_path / "m")).row_sizes_ is None


def test_without_dp_the_exact_sizes_are_kept_and_other_engines_keep_none() -> None:
    df = three_codes_each(n=400)
    exact = MedGAN(epsilon=None, engine="measure", random_state=0, **FAST).fit(df)
    assert exact.row_sizes_ == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert set(sizes(exact.sample(300, random_state=0, match_row_sizes=True)).nonzero()[0]) == {3}
    dpsgd = MedGAN(epsilon=3.0, engine="dpsgd", epochs=1, ae_epochs=1, random_state=0, device="cpu").fit(df)
    assert dpsgd.row_sizes_ is None
