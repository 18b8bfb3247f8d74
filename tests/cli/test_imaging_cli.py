"""`ehrsynth imaging fit | sample | evaluate` through main(), on a tiny generated MedMNIST-style .npz."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import ehrsynth.cli.main as cli


@pytest.fixture(autouse=True)
def _register(monkeypatch: pytest.MonkeyPatch) -> None:
    if "imaging" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "imaging"))


def _npz(path: Path, n: int = 80, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)

    def split(m: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(m) % 2
        images = rng.integers(0, 60, size=(m, 28, 28))
        images[labels == 0, :14] += 150
        images[labels == 1, 14:] += 150
        return images.astype(np.uint8), labels  # labels shaped (N,)

    (tri, trl), (vai, val), (tei, tel) = split(n), split(24), split(40)
    np.savez(
        path,
        train_images=tri,
        train_labels=trl,
        val_images=vai,
        val_labels=val,
        test_images=tei,
        test_labels=tel,
    )
    return path


def test_fit_sample_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _npz(tmp_path / "d.npz")
    model = tmp_path / "model"
    fit = ["imaging", "fit", str(data), "-o", str(model), "--epochs", "1", "--no-dp", "--device", "cpu"]
    assert cli.main([*fit, "--seed", "0", "--quiet"]) == 0
    assert "WITHOUT differential privacy" in capsys.readouterr().err
    assert json.loads((model / "privacy.json").read_text())["epsilon"] is None

    s = tmp_path / "S.npz"
    assert (
        cli.main(["imaging", "sample", str(model), "-n", "64", "--label", "1", "-o", str(s), "--seed", "1"])
        == 0
    )
    with np.load(s, allow_pickle=False) as out:
        assert out["images"].shape == (64, 28, 28) and out["images"].dtype == np.uint8
        assert set(out["labels"].tolist()) == {1}
    s2 = tmp_path / "S2.npz"
    assert (
        cli.main(["imaging", "sample", str(model), "-n", "64", "--label", "1", "-o", str(s2), "--seed", "1"])
        == 0
    )
    with np.load(s, allow_pickle=False) as a, np.load(s2, allow_pickle=False) as b:
        assert np.array_equal(a["images"], b["images"])  # --seed makes sampling reproducible

    out_json, out_html = tmp_path / "e.json", tmp_path / "e.html"
    args = ["imaging", "evaluate", "--real", str(data), "--synthetic", str(s), "--json", str(out_json)]
    assert cli.main([*args, "--html", str(out_html), "--epochs", "2"]) == 0
    result = json.loads(out_json.read_text())
    assert {"tstr_auc", "trtr_auc", "frechet_distance", "memorisation"} <= set(result)
    assert result["tstr_auc"] is None and "only classes [1]" in result["notes"][0]  # one class sampled
    assert 0.0 <= result["trtr_auc"] <= 1.0 and result["frechet_distance"] >= 0
    assert result["memorisation"]["holdout_split"] == "val"
    html = out_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html and "<script" not in html

    folder = tmp_path / "pngs"
    assert cli.main(["imaging", "sample", str(model), "-n", "6", "-o", str(folder), "--seed", "2"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["0", "1"] and len(list((folder / "0").iterdir())) == 3
    balanced = tmp_path / "B.npz"
    assert cli.main(["imaging", "sample", str(model), "-n", "40", "-o", str(balanced), "--seed", "3"]) == 0
    assert (
        cli.main(["imaging", "evaluate", "--real", str(data), "--synthetic", str(balanced), "--epochs", "1"])
        == 0
    )
    assert re.search(r"TSTR AUC \d\.\d{3}  \(TRTR \d\.\d{3}\)", capsys.readouterr().out)


def test_dp_fit_reports_epsilon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _npz(tmp_path / "d.npz", n=120)
    model = tmp_path / "m"
    args = ["imaging", "fit", str(data), "-o", str(model), "--epochs", "1", "--epsilon", "5", "--quiet"]
    assert cli.main([*args, "--device", "cpu", "--seed", "0"]) == 0
    assert "privacy spent: epsilon = " in capsys.readouterr().err
    assert cli.main(["privacy", str(model)]) == 0  # the shared privacy command reads image model dirs too
    assert "discriminator" in capsys.readouterr().out


def test_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((3, 28, 28), np.uint8))
    assert cli.main(["imaging", "fit", str(bad), "-o", str(tmp_path / "m"), "--no-dp"]) == 2
    assert "no train_images" in capsys.readouterr().err
    assert (
        cli.main(["imaging", "sample", str(tmp_path / "none"), "-n", "2", "-o", str(tmp_path / "x.npz")]) == 2
    )
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["imaging", "fit", str(bad), "-o", "m", "--no-dp", "--epsilon", "3"])
    assert info.value.code == 2  # --no-dp and --epsilon exclude each other
    assert cli.main(["imaging"]) == 2
