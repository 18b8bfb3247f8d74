"""CLI: synthesize / fit / sample / schema / privacy, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ehrsynth
from ehrsynth.cli.main import main

FAST = ["--epochs", "1", "--ae-epochs", "1", "--query-steps", "30", "--quiet", "--seed", "0"]


def _table(tmp_path: Path, n: int = 2000) -> Path:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "patient_id": np.arange(1000, 1000 + n),
            "age": rng.integers(20, 90, n),
            "sex": rng.choice(["F", "M"], n),
            "dx_250": rng.integers(0, 2, n),
            "lab": np.where(rng.random(n) < 0.2, np.nan, rng.normal(5, 1, n).round(2)),
        }
    )
    path = tmp_path / "real.csv"
    df.to_csv(path, index=False)
    return path


def test_help_is_instant_and_lazy() -> None:
    code = "import sys, ehrsynth.cli.main as m; m.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_synthesize_writes_typed_output_and_sidecar(tmp_path: Path, capsys) -> None:
    real = _table(tmp_path)
    out = tmp_path / "synth.csv"
    rc = main(["synthesize", str(real), "-o", str(out), "--rows", "50", "--epsilon", "2", *FAST])
    assert rc == 0
    meta = json.loads((tmp_path / "synth.csv.meta.json").read_text())
    assert meta["rows"] == 50 and meta["epsilon"] == 2.0 and meta["delta"] < 1 / 2000
    assert meta["identifiers"] == {"patient_id": "fresh surrogate keys; not taken from the input"}
    df = ehrsynth.read_synthetic(out)
    assert list(df.columns) == ["patient_id", "age", "sex", "dx_250", "lab"]
    assert isinstance(df["sex"].dtype, pd.CategoricalDtype)
    assert "privacy spent: epsilon" in capsys.readouterr().err


def test_fit_sample_privacy(tmp_path: Path, capsys) -> None:
    real = _table(tmp_path)
    model_dir = tmp_path / "model"
    assert main(["fit", str(real), "-o", str(model_dir), "--epsilon", "1", *FAST]) == 0
    assert main(["sample", str(model_dir), "-n", "30", "-o", str(tmp_path / "s.csv"), "--seed", "1"]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 30
    capsys.readouterr()
    assert main(["privacy", str(model_dir)]) == 0
    text = capsys.readouterr().out
    # the default (measure) engine's releases, each recomputed from privacy.json
    assert "marginals:1-way" in text and "measure:pairs:" in text and "recomputed" in text


def test_no_dp_says_so_loudly(tmp_path: Path, capsys) -> None:
    real = _table(tmp_path)
    assert main(["synthesize", str(real), "-o", str(tmp_path / "s.csv"), "--no-dp", *FAST]) == 0
    err = capsys.readouterr().err
    assert "WITHOUT differential privacy" in err
    assert json.loads((tmp_path / "s.csv.meta.json").read_text())["epsilon"] is None


def test_data_derived_schema_is_refused_under_dp_unless_stated_public(tmp_path: Path, capsys) -> None:
    real = _table(tmp_path)
    path = tmp_path / "schema.json"
    assert main(["schema", str(real), "-o", str(path), "--with-values"]) == 0
    schema = ehrsynth.Schema.load(path)
    assert schema.data_derived and schema["sex"].categories == ["F", "M"]
    synth = ["synthesize", str(real), "-o", str(tmp_path / "s.csv"), "--schema", str(path), *FAST]
    assert main(synth) == 2
    assert "derived from the data" in capsys.readouterr().err
    assert main([*synth, "--schema-is-public"]) == 0
    meta = json.loads((tmp_path / "s.csv.meta.json").read_text())
    assert "fidelity" in meta and meta["fidelity"]["columns"]


def test_schema_command_round_trip(tmp_path: Path) -> None:
    real = _table(tmp_path)
    assert main(["schema", str(real), "-o", str(tmp_path / "schema.json")]) == 0
    schema = ehrsynth.Schema.load(tmp_path / "schema.json")
    # kinds only by default: nothing read from the values, so it can be passed to a DP fit
    assert schema["sex"].kind.value == "categorical" and schema["sex"].categories is None
    assert not schema.data_derived
    assert (
        main(
            [
                "synthesize",
                str(real),
                "-o",
                str(tmp_path / "s.csv"),
                "--schema",
                str(tmp_path / "schema.json"),
                *FAST,
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    ("make", "args", "match"),
    [
        (lambda d: d.write_text(""), [], "is empty"),
        (lambda d: d.write_text("a,b\n1,2\n"), ["--no-dp"], "at least 10"),
        (lambda d: d.write_text("x,y\n" + "1,a\n" * 30 + "2,1\n"), [], None),
        (
            lambda d: pd.DataFrame({"c": [1, -1] * 150, "d": [0, 1] * 150}).to_csv(d, index=False),
            ["--schema", "SCHEMA"],
            "negative",
        ),
    ],
)
def test_bad_input_exit_2_one_line(tmp_path: Path, capsys, make, args, match) -> None:
    path = tmp_path / "in.csv"
    make(path)
    if "SCHEMA" in args:
        schema = {
            "columns": [
                {"name": "c", "kind": "count", "lower": 0, "upper": 5},
                {"name": "d", "kind": "binary"},
            ]
        }
        (tmp_path / "schema.json").write_text(json.dumps(schema))
        args = [a if a != "SCHEMA" else str(tmp_path / "schema.json") for a in args]
    rc = main(["synthesize", str(path), "-o", str(tmp_path / "o.csv"), *args, *FAST])
    err = capsys.readouterr().err.strip()
    if match is None:
        assert rc in (0, 2)
        return
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("ehrsynth: error:")]
    assert len(errors) == 1 and "Traceback" not in err
    assert match in errors[0]
    assert not (tmp_path / "o.csv").exists()


def test_output_in_missing_directory(tmp_path: Path, capsys) -> None:
    real = _table(tmp_path)
    rc = main(["synthesize", str(real), "-o", str(tmp_path / "nope" / "o.csv"), *FAST])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err


def test_unsupported_input_type(tmp_path: Path, capsys) -> None:
    (tmp_path / "x.xlsx").write_text("nope")
    assert main(["synthesize", str(tmp_path / "x.xlsx"), "-o", str(tmp_path / "o.csv"), *FAST]) == 2
    assert "unsupported file type" in capsys.readouterr().err


def test_altered_model_dir_exit_2(tmp_path: Path, capsys) -> None:
    real = _table(tmp_path)
    model_dir = tmp_path / "m"
    assert main(["fit", str(real), "-o", str(model_dir), "--no-dp", *FAST]) == 0
    (model_dir / "schema.json").write_text("{}")
    assert main(["sample", str(model_dir), "-n", "5", "-o", str(tmp_path / "s.csv")]) == 2
    assert "does not match its sha256" in capsys.readouterr().err


def test_cli_synthesize_and_api_give_the_same_rows(tmp_path: Path) -> None:
    import warnings

    from ehrsynth.errors import NoPrivacyWarning
    from ehrsynth.io.tables import read_table

    real = _table(tmp_path, n=300)
    out = tmp_path / "cli.csv"
    args = ["synthesize", str(real), "-o", str(out), "--no-dp", "--device", "cpu", *FAST]
    assert main([*args, "--rows", "40"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)
        api = ehrsynth.synthesize(
            read_table(real),
            epsilon=None,
            n_rows=40,
            random_state=0,
            epochs=1,
            ae_epochs=1,
            query_steps=30,
            device="cpu",
        )
    api.to_csv(tmp_path / "api.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(tmp_path / "api.csv"))


def _long_table(tmp_path: Path, n: int = 300) -> Path:
    rng = np.random.default_rng(1)
    rows = [(f"P{i}", code) for i in range(n) for code in ("250", "401", "428") if rng.random() < 0.5]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["pid", "icd"]).to_csv(path, index=False)
    return path


def test_long_input_is_in_the_manifest_and_validated(tmp_path: Path, capsys) -> None:
    model_dir = tmp_path / "m"
    long = ["--long", "--patient", "pid", "--code", "icd"]
    assert main(["fit", str(_long_table(tmp_path)), "-o", str(model_dir), "--no-dp", *long, *FAST]) == 0
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert "long_input.json" in manifest["files"]
    out = tmp_path / "s.csv"
    assert main(["sample", str(model_dir), "-n", "20", "-o", str(out), "--seed", "1"]) == 0
    assert list(pd.read_csv(out).columns) == ["pid", "icd"]  # written back in the long layout
    layout = json.loads((model_dir / "long_input.json").read_text())
    (model_dir / "long_input.json").write_text(json.dumps({**layout, "counts": "yes"}))
    capsys.readouterr()
    assert main(["sample", str(model_dir), "-n", "5", "-o", str(tmp_path / "t.csv")]) == 2
    assert "long_input.json" in capsys.readouterr().err


def test_engine_measure_from_the_command_line(tmp_path: Path) -> None:
    real = _table(tmp_path)
    model_dir = tmp_path / "model"
    argv = [
        "synthesize",
        str(real),
        "-o",
        str(tmp_path / "s.csv"),
        "--engine",
        "measure",
        "--epsilon",
        "3",
        "--query-steps",
        "60",
    ]
    assert main([*argv, "--save-model", str(model_dir), "--seed", "0", "--quiet"]) == 0
    names = [m["name"] for m in json.loads((model_dir / "privacy.json").read_text())["mechanisms"]]
    assert "marginals:1-way" in names and "discriminator" not in names
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2000


def test_match_row_sizes_keeps_the_codes_per_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    codes = np.zeros((800, 12), dtype=int)
    for row in codes:  # every patient holds exactly two of the twelve codes
        row[rng.choice(12, 2, replace=False)] = 1
    real = tmp_path / "codes.csv"
    pd.DataFrame(codes, columns=[f"dx_{j}" for j in range(12)]).to_csv(real, index=False)
    out, model_dir = tmp_path / "s.csv", tmp_path / "m"
    args = ["--rows", "300", "--epsilon", "3", "--save-model", str(model_dir), "--match-row-sizes", *FAST]
    assert main(["synthesize", str(real), "-o", str(out), *args]) == 0
    d = pd.read_csv(out)
    print(d.sum(axis=1).value_counts().head(), d.shape, d.describe().T)
    assert set(pd.read_csv(out).sum(axis=1)) == {2}
    sampled = tmp_path / "t.csv"
    assert main(["sample", str(model_dir), "-n", "300", "-o", str(sampled), "--match-row-sizes"]) == 0
    assert set(pd.read_csv(sampled).sum(axis=1)) == {2}
    assert main(["sample", str(model_dir), "-n", "300", "-o", str(sampled)]) == 0  # plain draws by default
    assert set(pd.read_csv(sampled).sum(axis=1)) != {2}


def test_synthesize_keeps_text_dates_in_order_and_says_how(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    n = 1500
    admit = pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    df = pd.DataFrame(
        {
            "admit_date": admit.strftime("%Y-%m-%d"),
            "discharge_date": (admit + pd.to_timedelta(rng.integers(0, 10, n), unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "age": rng.integers(20, 90, n),
        }
    )
    real = tmp_path / "stays.csv"
    df.to_csv(real, index=False)
    out = tmp_path / "synth.csv"
    args = ["synthesize", str(real), "-o", str(out), "--epsilon", "3", "--query-steps", "30", "--seed", "0"]
    assert main(args) == 0
    assert "'discharge_date' is modelled as days after 'admit_date'" in capsys.readouterr().err
    synth = pd.read_csv(out)
    assert synth["discharge_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    stay = (pd.to_datetime(synth["discharge_date"]) - pd.to_datetime(synth["admit_date"])).dt.days
    assert stay.between(0, 20).all()
    assert main([*args, "--no-date-gaps", "--quiet"]) == 0  # each date on its own: the order is not kept
    synth = pd.read_csv(out)
    stay = (pd.to_datetime(synth["discharge_date"]) - pd.to_datetime(synth["admit_date"])).dt.days
    assert (stay < 0).mean() > 0.1
