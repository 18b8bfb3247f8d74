"""What the DP 1-way release lost, kept with the model and written for analysts (``release_notes_``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from support import FAST
from unit.test_trimmed_tails import tailed_table

import ehrsynth
from ehrsynth.errors import DataFidelityWarning
from ehrsynth.estimator import MedGAN
from ehrsynth.io.synthetic import write_synthetic


@pytest.fixture(scope="module")
def fitted() -> tuple[MedGAN, list[str]]:
    """ε = 0.3 on 6,000 rows: the thin tail of ``stay`` (10 % of rows over 1,000-1,000,000) is cut."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MedGAN(epsilon=0.3, random_state=0, device="cpu", **FAST).fit(tailed_table())
    return model, [str(w.message) for w in caught if issubclass(w.category, DataFidelityWarning)]


def test_the_release_notes_are_the_warnings_the_fit_raised(fitted: tuple[MedGAN, list[str]]) -> None:
    model, warned = fitted
    assert model.release_notes_ and all(note in warned for note in model.release_notes_)
    assert any("'stay'" in note and "sparse parts of the range" in note for note in model.release_notes_)
    assert model.sample(5, random_state=1).attrs["ehrsynth"]["release_notes"] == model.release_notes_


def test_release_notes_survive_save_load_and_reach_the_sidecar(
    fitted: tuple[MedGAN, list[str]], tmp_path: Path
) -> None:
    model, _ = fitted
    model.save(tmp_path / "model")
    loaded = ehrsynth.load(tmp_path / "model")
    assert loaded.release_notes_ == model.release_notes_
    out = tmp_path / "synthetic.csv"
    synth = loaded.sample(20, random_state=2)
    write_synthetic(
        synth,
        out,
        schema=loaded.schema_,
        privacy=loaded.privacy_.to_dict(),
        release_notes=loaded.release_notes_,
    )
    assert ehrsynth.read_synthetic(out).attrs["ehrsynth"]["release_notes"] == model.release_notes_


def test_a_fit_without_dp_has_no_release_notes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MedGAN(epsilon=None, random_state=0, device="cpu", **FAST).fit(tailed_table(n=500))
    assert model.release_notes_ == []
