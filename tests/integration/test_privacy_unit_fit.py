"""A DP fit on a table with several rows per patient: refused by default, recorded when rows are accepted."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import FAST

import ehrsynth
from ehrsynth.errors import InvalidDataError
from ehrsynth.estimator import MedGAN


def encounters(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Encounters of n // 3 patients (three each), a code and a stay length."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "patient_nbr": np.repeat(np.arange(n // 3) + 1000, 3),
            "encounter_id": np.arange(n) + 50_000,
            "dx_250": rng.integers(0, 2, n),
            "stay": rng.integers(1, 15, n),
        }
    )


def test_dp_fit_refuses_repeated_patients_and_leaves_the_estimator_unfitted() -> None:
    model = MedGAN(epsilon=1.0, random_state=0, device="cpu", **FAST)
    with pytest.raises(InvalidDataError, match="'patient_nbr' \\(600 rows share 200 values"):
        model.fit(encounters())
    assert not hasattr(model, "privacy_")


def test_row_unit_fits_and_says_so_in_privacy_json_and_the_notes(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MedGAN(epsilon=1.0, random_state=0, device="cpu", **FAST).fit(
            encounters(), privacy_unit="row"
        )
    assert model.privacy_.privacy_unit == "row"
    assert any("one ROW" in note and "'patient_nbr'" in note for note in model.release_notes_)
    model.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "privacy.json").read_text())
    assert saved["privacy_unit"] == "row"
    assert ehrsynth.load(tmp_path / "m").privacy_.privacy_unit == "row"


def test_without_dp_there_is_no_check() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = ehrsynth.synthesize(encounters(300), epsilon=None, random_state=0, **FAST)
    assert len(out) == 300
