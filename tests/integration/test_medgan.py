"""The estimator contract, the synthesize() output contract, and model directories."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from support import FAST, make_table

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.errors import InvalidParameterError, ModelDirError, NotFittedError, PrivacyBudgetError
from ehrsynth.estimator import NoPrivacyWarning
from ehrsynth.training.progress import ProgressEvent


def test_init_only_stores_params() -> None:
    model = MedGAN(epsilon=1.0, epochs=3, random_state=7)
    params = model.get_params()
    assert params["epsilon"] == 1.0 and params["epochs"] == 3 and params["random_state"] == 7
    assert not [k for k in vars(model) if k.endswith("_")]
    assert MedGAN(**params).get_params() == params
    with pytest.raises(NotFittedError, match="not fitted"):
        model.sample(3)


def test_fit_returns_self_and_fitted_attributes(table: pd.DataFrame) -> None:
    events: list[ProgressEvent] = []
    model = MedGAN(epsilon=None, engine="dpsgd", random_state=0, progress=events.append, **FAST)
    with pytest.warns(NoPrivacyWarning, match="WITHOUT differential privacy"):
        assert model.fit(table) is model
    for attr in ("schema_", "transformer_", "generator_", "privacy_", "history_", "n_features_in_"):
        assert hasattr(model, attr)
    assert model.history_["autoencoder"] and model.history_["gan"]
    assert {e.phase for e in events} == {"autoencoder", "gan"}
    assert model.privacy_.epsilon is None


def test_output_contract(table: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        out = ehrsynth.synthesize(table, epsilon=None, n_rows=500, random_state=0, **FAST)
    assert list(out.columns) == list(table.columns)
    assert (out.dtypes == table.dtypes).all()
    assert len(out) == 500
    assert set(out["sex"]) <= {"F", "M"}
    assert set(out["race"].dropna()) <= {"A", "B", "C"}
    assert out["race"].isna().any() or out["hba1c"].isna().any()
    assert out["age"].between(18, 89).all() and out["visits"].ge(0).all()
    assert not set(out["mrn"]) & set(table["mrn"])  # identifiers never reproduced
    assert out.attrs["ehrsynth"]["privacy"]["epsilon"] is None


def test_reproducible_with_random_state(table: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        a = MedGAN(epsilon=None, random_state=3, **FAST).fit(table).sample(50, random_state=1)
        b = MedGAN(epsilon=None, random_state=3, **FAST).fit(table).sample(50, random_state=1)
    pd.testing.assert_frame_equal(a, b)


def test_dp_fit_records_privacy() -> None:
    table = make_table(3000)
    model = MedGAN(epsilon=3.0, engine="dpsgd", random_state=0, **FAST).fit(table)
    record = model.privacy_
    assert record.epsilon == 3.0 and 0 < record.delta < 1 / len(table)
    assert record.epsilon_spent <= 3.0 * 1.005
    names = [m.name for m in record.mechanisms]
    assert "autoencoder" in names and "discriminator" in names
    assert any(m.type == "gaussian" for m in record.mechanisms)  # DP domain discovery was charged
    assert model.schema_["sex"].categories == ["F", "M"]
    assert not model.discriminator_.minibatch_averaging


def test_dp_discovery_refuses_what_it_cannot_release(table: pd.DataFrame) -> None:
    # a tiny table at eps = 1: nothing can be released for some columns, and the error names them
    with pytest.raises(
        ehrsynth.errors.InvalidDataError, match=r"no value is held by enough rows|too spread out"
    ):
        MedGAN(epsilon=1.0, random_state=0, **FAST).fit(table)


def test_declared_schema_spends_nothing_on_domain(table: pd.DataFrame) -> None:
    schema = ehrsynth.Schema.infer(table)
    model = MedGAN(epsilon=2.0, engine="dpsgd", random_state=0, **FAST).fit(table, schema=schema)
    names = [m.name for m in model.privacy_.mechanisms]
    # the declared domains are used as given; only the 1-way release for calibration is charged
    assert names[:2] == ["marginals:row-bound", "marginals:1-way"] and names[-2:] == [
        "autoencoder",
        "discriminator",
    ]
    assert all(n.startswith("marginals:") for n in names[:-2])
    assert model.schema_["sex"].categories == schema["sex"].categories
    assert model.privacy_.schema_source == "declared"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epsilon": 0.0}, PrivacyBudgetError, "epsilon must be a positive"),
        ({"epsilon": -1.0}, PrivacyBudgetError, "epsilon must be a positive"),
        ({"epsilon": 1.0, "delta": 0.5}, PrivacyBudgetError, r"delta must be in \(0, 1/n\)"),
        ({"epsilon": 1.0, "delta": 0.0}, PrivacyBudgetError, r"delta must be in \(0, 1/n\)"),
        ({"epsilon": 1.0, "minibatch_averaging": True}, InvalidParameterError, "minibatch averaging"),
        ({"epsilon": 1e-4, "epochs": 50}, PrivacyBudgetError, "smallest feasible"),
        ({"epsilon": None, "d_steps": 0}, InvalidParameterError, "d_steps"),
        ({"epsilon": None, "device": "tpu"}, InvalidParameterError, "device"),
    ],
)
def test_bad_parameters(table: pd.DataFrame, kwargs, error, match) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        with pytest.raises(error, match=match):
            MedGAN(**{**FAST, **kwargs}).fit(table)


def test_too_few_rows_for_dp() -> None:
    with pytest.raises(PrivacyBudgetError, match="at least 100"):
        MedGAN(epsilon=1.0, **FAST).fit(make_table(50))
    with pytest.raises(ehrsynth.errors.InvalidDataError, match="at least 10"):
        MedGAN(epsilon=None, **FAST).fit(make_table(1))


def test_model_dir_round_trip_and_tamper(table: pd.DataFrame, tmp_path) -> None:
    model = MedGAN(epsilon=2.0, random_state=0, **FAST).fit(table, schema=ehrsynth.Schema.infer(table))
    d = tmp_path / "model"
    model.save(str(d))
    files = sorted(p.name for p in d.iterdir())
    assert files == ["config.json", "manifest.json", "privacy.json", "schema.json", "weights.safetensors"]
    loaded = ehrsynth.load(d)
    pd.testing.assert_frame_equal(loaded.sample(20, random_state=5), model.sample(20, random_state=5))
    assert loaded.privacy_.to_dict() == model.privacy_.to_dict()
    privacy = json.loads((d / "privacy.json").read_text())
    privacy["epsilon_spent"] = 0.01
    (d / "privacy.json").write_text(json.dumps(privacy))
    with pytest.raises(ModelDirError, match=r"privacy\.json .* does not match its sha256"):
        ehrsynth.load(d)
    (d / "privacy.json").unlink()
    with pytest.raises(ModelDirError, match=r"missing privacy\.json"):
        ehrsynth.load(d)
    with pytest.raises(ModelDirError, match="does not exist"):
        ehrsynth.load(tmp_path / "nope")


def test_sample_rate_of_rows(table: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        model = MedGAN(epsilon=None, random_state=0, **FAST).fit(table)
    with pytest.raises(InvalidParameterError, match="positive integer"):
        model.sample(0)
    out = model.sample(120_000, random_state=0)
    assert len(out) == 120_000 and np.isfinite(out["age"]).all()
