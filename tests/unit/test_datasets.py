"""ehrsynth.datasets (demo table, diabetes130 builder) and the scale-table generator in benchmarks/."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from ehrsynth.datasets import demo as demo_module
from ehrsynth.datasets import diabetes130_patient_table, load_demo
from ehrsynth.errors import EhrsynthError, InvalidDataError, InvalidParameterError

REPO_ROOT = Path(__file__).resolve().parents[2]
HAS_LIFELINES = importlib.util.find_spec("lifelines") is not None


# --------------------------------------------------------------------------------------------- demo


@pytest.mark.skipif(not HAS_LIFELINES, reason="lifelines (the demo extra) is not installed")
def test_load_demo_shape_columns_and_dtypes() -> None:
    df = load_demo()
    assert df.shape == (2139, 27)
    assert tuple(df.columns) == demo_module.DEMO_COLUMNS
    assert isinstance(df.index, pd.RangeIndex)
    assert df["pidnum"].is_unique and df["pidnum"].dtype == np.int64
    assert df["wtkg"].dtype == np.float64
    assert str(df["cd496"].dtype) == "Int64" and int(df["cd496"].isna().sum()) == 797
    for col in demo_module.BINARY_COLUMNS:
        assert df[col].dtype == np.int64, col
        assert set(df[col].unique()) <= {0, 1}, col
    assert sorted(df["arms"].unique()) == [0, 1, 2, 3]
    assert sorted(df["karnof"].unique()) == [70, 80, 90, 100]
    # cd496 is observed exactly when r == 1 (the source's missingness indicator)
    assert (df["cd496"].notna().astype(int) == df["r"]).all()
    groups = (
        demo_module.IDENTIFIER_COLUMNS
        + demo_module.BINARY_COLUMNS
        + demo_module.CATEGORICAL_COLUMNS
        + demo_module.COUNT_COLUMNS
        + demo_module.CONTINUOUS_COLUMNS
    )
    assert sorted(groups) == sorted(demo_module.DEMO_COLUMNS)


def test_load_demo_without_lifelines_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_module, "_LIFELINES", "lifelines_is_not_installed_here")
    with pytest.raises(EhrsynthError, match=r'pip install "ehrsynth\[demo\]"'):
        load_demo()


def test_load_demo_with_old_lifelines_says_upgrade(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = tmp_path / "oldlifelines_fake"
    (package / "datasets").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "datasets" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(demo_module, "_LIFELINES", "oldlifelines_fake")
    with pytest.raises(EhrsynthError, match="does not ship the ACTG 175 table"):
        load_demo()
    for name in ("oldlifelines_fake", "oldlifelines_fake.datasets"):
        sys.modules.pop(name, None)


def test_demo_citation_names_the_trial() -> None:
    assert "Hammer" in demo_module.DEMO_CITATION and "335:1081" in demo_module.DEMO_CITATION


# ---------------------------------------------------------------------------------------- diabetes130


@pytest.fixture(scope="module")
def diabetes_table(diabetes_csv: Path) -> pd.DataFrame:
    return diabetes130_patient_table(diabetes_csv)


@pytest.fixture(scope="module")
def diabetes_raw(diabetes_csv: Path) -> pd.DataFrame:
    return pd.read_csv(diabetes_csv, dtype=str, na_values=["?"])


def test_diabetes_table_layout(diabetes_table: pd.DataFrame) -> None:
    df = diabetes_table
    assert len(df) == 49_971
    assert df.columns[:5].tolist() == ["patient_nbr", "race", "gender", "age", "readmitted"]
    code_cols = [c for c in df.columns if c.startswith("dx_")]
    assert len(code_cols) == df.shape[1] - 5 == 842
    assert code_cols == sorted(code_cols)
    assert (df[code_cols].dtypes == np.uint8).all()
    assert df["patient_nbr"].dtype == np.int64 and df["patient_nbr"].is_monotonic_increasing
    assert df["patient_nbr"].is_unique
    assert set(df["readmitted"].dropna()) == {"NO", ">30", "<30"}
    for col in ["dx_250", "dx_038", "dx_008", "dx_V27", "dx_E909"]:
        assert col in df.columns, col
    assert int((df[code_cols].sum(axis=1) == 0).sum()) == 1  # one patient has no diagnosis at all


def test_diabetes_codes_match_an_independent_computation(
    diabetes_table: pd.DataFrame, diabetes_raw: pd.DataFrame
) -> None:
    raw = diabetes_raw
    long = raw.melt(id_vars="patient_nbr", value_vars=["diag_1", "diag_2", "diag_3"], value_name="code")
    long = long.dropna(subset=["code"])
    head = long["code"].str.split(".").str[0]
    numeric = head.str.isdigit()
    long["group"] = head.where(~numeric, head.str.zfill(3))  # this file has no dotted V or E codes
    expected = set(zip(long["patient_nbr"].astype("int64"), "dx_" + long["group"], strict=True))
    codes = diabetes_table.set_index("patient_nbr").filter(like="dx_")
    rows, cols = np.nonzero(codes.to_numpy())
    got = set(zip(codes.index.to_numpy()[rows], codes.columns.to_numpy()[cols], strict=True))
    assert got == expected


def test_diabetes_demographics_from_first_encounter_and_worst_readmission(
    diabetes_table: pd.DataFrame, diabetes_raw: pd.DataFrame
) -> None:
    raw = diabetes_raw.assign(
        enc=diabetes_raw["encounter_id"].astype("int64"), pid=diabetes_raw["patient_nbr"].astype("int64")
    )
    first = raw.sort_values("enc").drop_duplicates("pid").set_index("pid")
    table = diabetes_table.set_index("patient_nbr")
    for col in ["race", "gender", "age"]:
        pd.testing.assert_series_equal(
            table[col], first.loc[table.index, col], check_names=False, check_index_type=False
        )
    rank = raw["readmitted"].map({"NO": 0, ">30": 1, "<30": 2})
    worst = rank.groupby(raw["pid"]).max().map({0: "NO", 1: ">30", 2: "<30"})
    assert (table["readmitted"] == worst.loc[table.index]).all()
    n_encounters = raw["pid"].value_counts()
    multi = n_encounters[n_encounters > 1].index[:200]
    assert (table.loc[multi, "readmitted"] != first.loc[multi, "readmitted"]).any()  # "worst" matters


def test_diabetes_min_code_patients(diabetes_csv: Path, diabetes_table: pd.DataFrame) -> None:
    df = diabetes130_patient_table(diabetes_csv, min_code_patients=5)
    codes = df.filter(like="dx_")
    full = diabetes_table.filter(like="dx_")
    assert len(df) == len(diabetes_table)
    assert int(codes.sum().min()) >= 5
    assert codes.shape[1] == int((full.sum() >= 5).sum())
    with pytest.raises(InvalidParameterError):
        diabetes130_patient_table(diabetes_csv, min_code_patients=0)


_HEADER = "encounter_id,patient_nbr,race,gender,age,readmitted,diag_1,diag_2,diag_3\n"


def test_diabetes_small_file_semantics(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text(
        _HEADER
        + "30,7,Other,Male,[50-60),<30,250.83,8,?\n"  # a later encounter of patient 7
        + "10,7,Caucasian,Male,[40-50),NO,V27,E909,?\n"  # patient 7's first encounter
        + "20,5,?,Female,[70-80),?,?,?,?\n"  # a patient without any code or outcome
    )
    df = diabetes130_patient_table(path)
    assert df["patient_nbr"].tolist() == [5, 7]
    assert df.columns.tolist() == [
        "patient_nbr", "race", "gender", "age", "readmitted", "dx_008", "dx_250", "dx_E909", "dx_V27",
    ]  # fmt: skip
    assert df[["race", "age", "readmitted"]].to_numpy()[1].tolist() == ["Caucasian", "[40-50)", "<30"]
    assert df[["dx_008", "dx_250", "dx_E909", "dx_V27"]].to_numpy()[1].tolist() == [1, 1, 1, 1]
    assert df.loc[0].isna()[["race", "readmitted"]].all()
    assert df.loc[0, ["dx_008", "dx_250", "dx_E909", "dx_V27"]].sum() == 0


@pytest.mark.parametrize(
    ("body", "column", "match"),
    [
        ("1,7,A,Male,[0-10),NO,250\n", "diag_2", "not found"),
        ("1,7,A,Male,[0-10),MAYBE,250,?,?\n", "readmitted", "MAYBE"),
        ("1,,A,Male,[0-10),NO,250,?,?\n", "patient_nbr", "missing"),
        ("1,7,A,Male,[0-10),NO,250,I10,?\n", "diag_2", "ICD-9"),
    ],
)
def test_diabetes_bad_files(tmp_path: Path, body: str, column: str, match: str) -> None:
    short_header = "encounter_id,patient_nbr,race,gender,age,readmitted,diag_1\n"
    header = short_header if match == "not found" else _HEADER
    path = tmp_path / "bad.csv"
    path.write_text(header + body)
    with pytest.raises(InvalidDataError, match=match) as err:
        diabetes130_patient_table(path)
    assert err.value.column == column


# ------------------------------------------------------------------------------- benchmarks/scale_data


@pytest.fixture(scope="module")
def scale_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scale_data", REPO_ROOT / "benchmarks" / "scale_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _template(n: int = 400, n_codes: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prevalence = np.geomspace(0.4, 0.005, n_codes)
    codes = (rng.random((n, n_codes)) < prevalence).astype(np.uint8)
    df = pd.DataFrame(codes, columns=[f"dx_{i:03d}" for i in range(n_codes)])
    df.insert(0, "sex", rng.choice(["F", "M"], size=n))
    df.insert(0, "patient_nbr", np.arange(n) * 7)
    return df


def test_scale_table_extends_vocabulary(scale_data: ModuleType) -> None:
    template = _template()
    table = scale_data.make_scale_table(template, 3000, 100, random_state=3)
    codes = table.filter(like="dx_")
    assert table.shape == (3000, 102) and codes.shape[1] == 100
    assert (codes.dtypes == np.uint8).all() and set(np.unique(codes.to_numpy())) <= {0, 1}
    assert table["patient_nbr"].tolist() == list(range(1, 3001))
    assert set(table["sex"]) <= {"F", "M"}
    assert codes.columns.is_unique
    # template codes keep their prevalence; new codes have prevalences within the template's range
    old = template.filter(like="dx_").columns
    assert np.corrcoef(template[old].mean(), codes[old].mean())[0, 1] > 0.95
    new = codes.drop(columns=old)
    assert new.shape[1] == 60 and float(new.mean().max()) <= float(template[old].mean().max())
    # the perturbation moves codes without changing how many a patient has (collisions aside), so the
    # template codes' mean count per patient stays close (new sub-codes add on top)
    per_patient = template[old].sum(axis=1).mean()
    assert per_patient * 0.9 < codes[old].sum(axis=1).mean() <= per_patient * 1.1


def test_scale_table_is_deterministic_and_perturbed(scale_data: ModuleType) -> None:
    template = _template()
    a = scale_data.make_scale_table(template, 500, 30, random_state=11)
    b = scale_data.make_scale_table(template, 500, 30, random_state=11)
    c = scale_data.make_scale_table(template, 500, 30, random_state=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.filter(like="dx_").shape[1] == 30  # the 30 most prevalent template codes
    template_rows = {row.tobytes() for row in template[a.filter(like="dx_").columns].to_numpy()}
    copies = np.mean([row.tobytes() in template_rows for row in a.filter(like="dx_").to_numpy()])
    assert copies < 0.9


def test_scale_table_bad_arguments(scale_data: ModuleType) -> None:
    with pytest.raises(InvalidParameterError):
        scale_data.make_scale_table(_template(), 0, 10, random_state=0)
    with pytest.raises(InvalidDataError, match="code columns"):
        scale_data.make_scale_table(_template(), 10, 10, random_state=0, code_prefix="zz")
    bad = _template().assign(dx_000=2)
    with pytest.raises(InvalidDataError, match="not 0/1"):
        scale_data.make_scale_table(bad, 10, 10, random_state=0)
