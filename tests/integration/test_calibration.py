"""Marginal calibration through MedGAN: charged once, applied at sampling, saved and validated on load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.errors import InvalidParameterError, ModelDirError

FAST = {"epochs": 2, "ae_epochs": 1, "device": "cpu", "query_steps": 30}


def code_table(n: int = 600, k: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prevalence = np.geomspace(0.4, 0.01, k)
    codes = (rng.random((n, k)) < prevalence).astype("int64")
    df = pd.DataFrame(codes, columns=[f"dx_{i:03d}" for i in range(k)])
    df["sex"] = rng.choice(["F", "M"], n)
    return df


def prevalence_r(real: pd.DataFrame, synth: pd.DataFrame) -> float:
    codes = [c for c in real.columns if c.startswith("dx_")]
    return float(np.corrcoef(real[codes].mean(), synth[codes].astype(float).mean())[0, 1])


def test_dp_calibration_is_charged_and_fixes_prevalences(tmp_path: Path) -> None:
    df = code_table(n=2000)
    schema = ehrsynth.Schema.infer(df)
    # the dpsgd GAN's raw prevalences are off; the measure engine fits the released 1-ways itself
    raw = MedGAN(epsilon=3.0, engine="dpsgd", calibrate_marginals=False, random_state=0, **FAST).fit(
        df, schema=schema
    )
    cal = MedGAN(epsilon=3.0, engine="dpsgd", random_state=0, **FAST).fit(df, schema=schema)
    names = [m.name for m in cal.privacy_.mechanisms]
    assert names.count("marginals:1-way") == 1 and "marginals:1-way" not in [
        m.name for m in raw.privacy_.mechanisms
    ]
    assert cal.privacy_.epsilon_spent == pytest.approx(3.0, rel=0.01)  # one budget for everything
    assert cal.calibration_ is not None and len(cal.calibration_["shift"]) == cal.transformer_.width
    r_raw = prevalence_r(df, raw.sample(5000, random_state=1))
    r_cal = prevalence_r(df, cal.sample(5000, random_state=1))
    assert r_cal > 0.95 and r_cal > r_raw
    sex = cal.sample(5000, random_state=2)["sex"].value_counts(normalize=True)  # categoricals too
    assert abs(sex["F"] - (df["sex"] == "F").mean()) < 0.05

    cal.save(str(tmp_path / "m"))
    loaded = ehrsynth.load(str(tmp_path / "m"))
    assert loaded.calibration_ == cal.calibration_
    pd.testing.assert_frame_equal(loaded.sample(50, random_state=3), cal.sample(50, random_state=3))


def test_non_dp_calibrates_to_the_exact_marginals() -> None:
    df = code_table(n=300)
    df["age"] = np.random.default_rng(1).integers(18, 90, len(df))
    model = MedGAN(epsilon=None, random_state=0, **FAST).fit(df)
    assert model.calibration_ is not None
    codes = [c for c in df.columns if c.startswith("dx_")]
    assert np.allclose([model.schema_[c].frequencies[0] for c in codes], df[codes].mean().to_numpy())
    out = model.sample(5000, random_state=0)
    assert prevalence_r(df, out) > 0.98
    # numbers: quantile bins are calibrated, so the synthetic median sits near the real one
    assert abs(out["age"].median() - df["age"].median()) < 6


def test_marginal_share_must_leave_budget_for_training() -> None:
    df = code_table(n=200)
    with pytest.raises(InvalidParameterError, match="marginal_share"):
        MedGAN(epsilon=1.0, marginal_share=1.0, **FAST).fit(df)


def test_tampered_calibration_is_refused(tmp_path: Path) -> None:
    df = code_table(n=200)
    model = MedGAN(epsilon=None, random_state=0, **FAST).fit(df)
    model.save(str(tmp_path / "m"))
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config["fitted"]["calibration"]["shift"] = config["fitted"]["calibration"]["shift"][:-1]
    config_path.write_text(json.dumps(config))
    # the manifest catches the edit first; a consistent but wrong directory must fail on the calibration
    manifest_path = tmp_path / "m" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    from ehrsynth.io.atomic import sha256_file

    manifest["files"]["config.json"] = sha256_file(config_path)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ModelDirError, match="calibration"):
        ehrsynth.load(str(tmp_path / "m"))
