"""Issue 13 in the model directory: nothing unreleased is saved or printed after a DP fit, ε is always the
recomputed one, and a tampered, truncated or linked directory is a ModelDirError (CLI exit 2)."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import FAST, make_table

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.cli.main import main
from ehrsynth.errors import ModelDirError, NoPrivacyWarning
from ehrsynth.training.progress import ProgressEvent

PLANTED = "QZ9RARE7"  # a code held by one patient: never released under DP


def _rehash(d: Path) -> None:
    manifest = json.loads((d / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((d / name).read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = make_table(300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        model = MedGAN(epsilon=None, random_state=0, **FAST).fit(table)
    d = tmp_path_factory.mktemp("saved") / "m"
    model.save(str(d))
    return d


@pytest.fixture()
def copy(saved: Path, tmp_path: Path) -> Path:
    d = tmp_path / "m"
    shutil.copytree(saved, d)
    return d


# -- 13.1: long-format DP fit: the one-patient code appears nowhere ----------------------------------------
def test_unreleased_code_appears_in_no_saved_or_printed_output(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    rows = [(f"P{i:05d}", code) for i in range(1500) for code in ("A01", "B02", "C03") if rng.random() < 0.4]
    rows.append(("P00007", PLANTED))
    long = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["pid", "icd"]).to_csv(long, index=False)
    out, model_dir = tmp_path / "s.csv", tmp_path / "model"
    args = ["synthesize", str(long), "-o", str(out), "--save-model", str(model_dir), "--epsilon", "3"]
    args += [
        "--long",
        "--patient",
        "pid",
        "--code",
        "icd",
        "--epochs",
        "1",
        "--ae-epochs",
        "1",
        "--query-steps",
        "30",
        "--seed",
        "0",
    ]
    capsys.readouterr()
    assert main(args) == 0
    printed = capsys.readouterr()
    files = [*model_dir.iterdir(), out, Path(f"{out}.meta.json")]
    assert (model_dir / "long_input.json").is_file() and Path(f"{out}.meta.json").is_file()
    for path in files:
        assert PLANTED.encode() not in path.read_bytes(), path.name
    config = json.loads((model_dir / "config.json").read_text())
    assert config["fitted"]["n_features_in"] == len(config["fitted"]["feature_names_in"])
    assert PLANTED not in printed.out and PLANTED not in printed.err


# -- 13.2: under DP no loss on real batches is kept or shown -----------------------------------------------
def test_dp_history_and_progress_hold_no_loss_on_real_data(tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    # dpsgd: its losses are computed on real batches (the measure engine's are against released answers)
    model = MedGAN(epsilon=3.0, engine="dpsgd", random_state=0, progress=events.append, **FAST)
    model.fit(make_table(300), schema=ehrsynth.Schema.infer(make_table(300)))
    ae, gan = model.history_["autoencoder"], model.history_["gan"]
    assert ae and gan
    assert all(set(e) == {"step"} for e in ae)
    assert all(set(e) == {"iteration", "g_loss"} for e in gan)
    assert all(not e.losses for e in events if e.phase == "autoencoder")
    assert all(set(e.losses) <= {"g_loss"} for e in events if e.phase == "gan")
    model.save(str(tmp_path / "m"))
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["history"]
    assert "d_loss" not in json.dumps(saved) and '"loss"' not in json.dumps(saved)


def test_without_dp_losses_are_kept(table: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        model = MedGAN(epsilon=None, engine="dpsgd", random_state=0, **FAST).fit(table)
    assert "loss" in model.history_["autoencoder"][-1]
    assert {"d_loss", "g_loss"} <= set(model.history_["gan"][-1])


# -- 13.3: a forged privacy claim is refused ----------------------------------------------------------------
def test_forged_epsilon_spent_is_refused(tmp_path: Path, capsys) -> None:
    table = make_table(300)
    model = MedGAN(epsilon=2.0, random_state=0, **FAST).fit(table, schema=ehrsynth.Schema.infer(table))
    d = tmp_path / "m"
    model.save(str(d))
    assert ehrsynth.load(d).privacy_.epsilon_spent == pytest.approx(model.privacy_.epsilon_spent)
    privacy = json.loads((d / "privacy.json").read_text())
    privacy["epsilon_spent"] = 0.01
    (d / "privacy.json").write_text(json.dumps(privacy))
    _rehash(d)
    with pytest.raises(ModelDirError, match="compose to"):
        ehrsynth.load(d)
    capsys.readouterr()
    assert main(["privacy", str(d)]) == 2
    assert main(["sample", str(d), "-n", "5", "-o", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "0.01" in err and "Traceback" not in err
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "s.csv.meta.json").exists()


# -- 13.7: tampered config / truncated weights: ModelDirError, exit 2 ----------------------------------------
def _edit_config(d: Path, edit) -> None:
    config = json.loads((d / "config.json").read_text())
    edit(config)
    (d / "config.json").write_text(json.dumps(config))
    _rehash(d)


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["params"].update(bogus=1),  # unknown parameter
        lambda c: c.update(extra=1),  # unknown top-level key
        lambda c: c["params"].update(epochs="two"),  # wrong type
        lambda c: c["params"].update(generator_dims="128"),  # wrong type
        lambda c: c["params"].pop("lr"),  # missing parameter
        lambda c: c["fitted"].pop("schedule"),  # missing fitted field
        lambda c: c["fitted"]["schedule"].update(ae_steps="x"),  # wrong type inside
        lambda c: c["fitted"].update(calibration={"columns": 1}),
        lambda c: c.update(history=[1, 2]),
        lambda c: c.update(params=[]),
    ],
)
def test_tampered_config_is_a_model_dir_error(copy: Path, tmp_path: Path, capsys, edit) -> None:
    _edit_config(copy, edit)
    with pytest.raises(ModelDirError):
        ehrsynth.load(copy)
    capsys.readouterr()
    assert main(["sample", str(copy), "-n", "5", "-o", str(tmp_path / "s.csv")]) == 2
    assert "internal error" not in capsys.readouterr().err


def test_truncated_weights_are_a_model_dir_error(copy: Path) -> None:
    data = (copy / "weights.safetensors").read_bytes()
    (copy / "weights.safetensors").write_bytes(data[: len(data) // 2])
    _rehash(copy)
    with pytest.raises(ModelDirError, match="safetensors"):
        ehrsynth.load(copy)


# -- 13.8: symbolic links are refused, never followed -------------------------------------------------------
def test_symlink_inside_model_dir_is_refused(copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    shutil.move(copy / "schema.json", outside)
    (copy / "schema.json").symlink_to(outside)  # same content: following it would pass the manifest
    with pytest.raises(ModelDirError, match="symbolic link"):
        ehrsynth.load(copy)


def test_symlinked_model_dir_is_refused(copy: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(copy, target_is_directory=True)
    with pytest.raises(ModelDirError, match="symbolic link"):
        ehrsynth.load(link)
