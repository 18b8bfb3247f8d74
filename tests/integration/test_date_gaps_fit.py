"""Discharge stays after admission on the user path: the later date is modelled as a gap, rebuilt on sampling,
charged in privacy.json and saved with the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pld
import pytest
from support import rewrite_config

import ehrsynth
from ehrsynth import MedGAN
from ehrsynth.errors import ModelDirError
from ehrsynth.schema import Column, Kind, Schema
from ehrsynth.transforms.date_gaps import DateGap

FAST = {"device": "cpu", "query_steps": 60}


def stays(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    admit = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 1800, n), unit="D")
    age = rng.integers(20, 90, n)
    stay = np.minimum(rng.poisson(2 + age / 20), 20)
    return pd.DataFrame(
        {
            "age": age,
            "admit_date": admit,
            "discharge_date": (admit + pd.to_timedelta(stay, unit="D")).strftime("%Y-%m-%d"),  # text dates
            "ward": rng.choice(["A", "B", "C"], n),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, MedGAN]:
    df = stays()
    return df, MedGAN(epsilon=3.0, random_state=0, **{**FAST, "query_steps": 150}).fit(
        df
    )  # learns age → stay


def test_dates_keep_their_order_and_stay_lengths(fitted: tuple[pd.DataFrame, MedGAN]) -> None:
    df, model = fitted
    assert model.date_gaps_ == (DateGap("discharge_date", "admit_date", dtype="object"),)
    out = model.sample(3000, random_state=1)
    assert out["discharge_date"].map(type).eq(str).all()  # text in, text out
    stay = (pd.to_datetime(out["discharge_date"]) - out["admit_date"]).dt.days
    real = (pd.to_datetime(df["discharge_date"]) - df["admit_date"]).dt.days
    assert (stay >= 0).all() and stay.max() <= real.max() + 5  # before: ~48 % negative, stays of months
    assert abs(stay.mean() - real.mean()) < 1.0
    older = out["age"] > 60  # the stay's dependence on age is learnt like any other pair
    assert stay[older].mean() > stay[~older].mean() + 0.5
    assert model.schema_["discharge_date"].kind is not Kind.DATETIME  # schema_ describes the days modelled
    modelled = model.as_modelled(out)
    assert modelled["discharge_date"].tolist() == stay.astype(float).tolist()


def test_the_order_release_is_charged_and_recomputable(
    tmp_path: Path, fitted: tuple[pd.DataFrame, MedGAN]
) -> None:
    _, model = fitted
    model.save(str(tmp_path / "m"))
    record = json.loads((tmp_path / "m" / "privacy.json").read_text())
    assert "date-order" in [m["name"] for m in record["mechanisms"]]
    assert pld.pld_epsilon(record) == pytest.approx(record["epsilon_spent"], rel=0.02)
    assert record["epsilon_spent"] <= 3.0 * 1.005


def test_the_gaps_are_saved_and_checked_on_load(tmp_path: Path, fitted: tuple[pd.DataFrame, MedGAN]) -> None:
    _, model = fitted
    model.save(str(tmp_path / "m"))
    loaded = ehrsynth.load(str(tmp_path / "m"))
    assert loaded.date_gaps_ == model.date_gaps_
    pd.testing.assert_frame_equal(loaded.sample(100, random_state=2), model.sample(100, random_state=2))

    def rewrite(value: object) -> None:
        rewrite_config(tmp_path / "m", lambda config: config["fitted"].__setitem__("date_gaps", value))

    good = DateGap("discharge_date", "admit_date").to_dict()
    for bad in (
        {"x": 1},
        [{**good, "anchor": "nope"}],
        [{**good, "column": "ward", "anchor": "age"}],  # not a date in the input
        [{**good, "time_unit": "h"}],
        [good, {**good, "anchor": "ward"}],
    ):
        rewrite(bad)
        with pytest.raises(ModelDirError, match="date_gaps"):
            ehrsynth.load(str(tmp_path / "m"))


def test_without_dp_and_with_a_declared_schema() -> None:
    df = stays(n=1500, seed=1)
    df["discharge_date"] = pd.to_datetime(df["discharge_date"])
    declared = Schema(
        [
            Column("age", Kind.CONTINUOUS, decimals=0),
            Column("admit_date", Kind.DATETIME, lower=16_436.0, upper=18_300.0, time_unit="D"),
            Column("discharge_date", Kind.DATETIME, lower=16_436.0, upper=18_330.0, time_unit="D"),
            Column("ward", Kind.CATEGORICAL, categories=["A", "B", "C"]),
        ]
    )
    for epsilon in (None, 3.0):
        model = MedGAN(epsilon=epsilon, random_state=0, **FAST).fit(df, schema=declared)
        assert [g.column for g in model.date_gaps_] == ["discharge_date"]
        out = model.sample(500, random_state=0)
        assert pd.api.types.is_datetime64_any_dtype(out["discharge_date"])
        assert ((out["discharge_date"] - out["admit_date"]).dt.days >= 0).all()


def test_mimic_admission_timestamps_without_dp(mimic_demo: Path) -> None:
    """MIMIC-III demo ADMISSIONS (129 admissions; text timestamps to the minute): without DP the stays,
    ED waits and death times are rebuilt after their anchors, to the second, as text."""
    df = pd.read_csv(mimic_demo / "ADMISSIONS.csv").drop(columns=["row_id", "diagnosis"])
    model = MedGAN(epsilon=None, random_state=0, **FAST).fit(df)
    pairs = {(g.column, g.anchor, g.time_unit) for g in model.date_gaps_}
    assert {("dischtime", "admittime", "s"), ("edouttime", "edregtime", "s")} <= pairs
    out = model.sample(300, random_state=0)
    admit, disch = pd.to_datetime(out["admittime"]), pd.to_datetime(out["dischtime"])
    assert out["admittime"].dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    assert ((disch - admit).dt.total_seconds() >= 0).all()
    real_los = (pd.to_datetime(df["dischtime"]) - pd.to_datetime(df["admittime"])).dt.days
    assert (disch - admit).dt.days.max() <= real_los.max() + 1


def test_date_gaps_false_models_dates_apart_and_old_directories_load(tmp_path: Path) -> None:
    df = stays(n=1500, seed=2)
    model = MedGAN(epsilon=3.0, random_state=0, date_gaps=False, **FAST).fit(df)
    assert model.date_gaps_ == ()
    assert "date-order" not in [m.name for m in model.privacy_.mechanisms]
    assert model.schema_["discharge_date"].kind is Kind.DATETIME
    model.save(str(tmp_path / "m"))

    def older(config: dict) -> None:  # a directory saved before the parameter existed
        del config["params"]["date_gaps"]
        del config["fitted"]["date_gaps"]

    rewrite_config(tmp_path / "m", older)
    loaded = ehrsynth.load(str(tmp_path / "m"))
    assert loaded.date_gaps is False and loaded.date_gaps_ == ()
    pd.testing.assert_frame_equal(loaded.sample(50, random_state=1), model.sample(50, random_state=1))
    rewrite_config(tmp_path / "m", lambda config: config["params"].__setitem__("surprise", 1))
    with pytest.raises(ModelDirError, match="unknown keys"):  # unknown parameters are still refused
        ehrsynth.load(str(tmp_path / "m"))


def test_far_apart_dates_keep_their_order_by_redrawing_rows(tmp_path: Path) -> None:
    """Birth → death spans decades, too far for a gap: the pair is kept as an order and sampling redraws
    the rows where death comes first (identifiers renumbered, the order saved with the model)."""
    rng = np.random.default_rng(4)
    n = 3000
    birth = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 25_000, n), unit="D")
    df = pd.DataFrame(
        {
            "patient_id": np.arange(n) + 10_000,
            "birth_date": birth,
            "death_date": birth + pd.to_timedelta(rng.integers(0, 30_000, n), unit="D"),
            "sex": rng.choice(["F", "M"], n),
        }
    )
    model = MedGAN(epsilon=3.0, random_state=0, **FAST).fit(df)
    assert model.date_gaps_ == () and [(o.column, o.after) for o in model.date_orders_] == [
        ("death_date", "birth_date")
    ]
    out = model.sample(2000, random_state=0)
    assert len(out) == 2000 and (out["death_date"] >= out["birth_date"]).all()
    assert out["patient_id"].is_unique
    plain = MedGAN(epsilon=3.0, random_state=0, date_gaps=False, **FAST).fit(df).sample(2000, random_state=0)
    assert (plain["death_date"] < plain["birth_date"]).mean() > 0.02  # what redrawing removes
    model.save(str(tmp_path / "m"))
    loaded = ehrsynth.load(str(tmp_path / "m"))
    assert loaded.date_orders_ == model.date_orders_
    pd.testing.assert_frame_equal(loaded.sample(300, random_state=5), model.sample(300, random_state=5))
    rewrite_config(
        tmp_path / "m", lambda c: c["fitted"].__setitem__("date_orders", [{"column": "x", "after": "sex"}])
    )
    with pytest.raises(ModelDirError, match="date_orders"):
        ehrsynth.load(str(tmp_path / "m"))


def test_timestamps_keep_their_time_of_day_under_dp(tmp_path: Path) -> None:
    """Under DP dates are modelled in whole days; the time of day is released apart and drawn on sampling
    (before, every synthetic timestamp read 00:00:00). Admission in the afternoon, discharge in the morning."""
    rng = np.random.default_rng(0)
    n = 3000
    admit = (
        pd.Timestamp("2150-01-01")
        + pd.to_timedelta(rng.integers(0, 1800, n), unit="D")
        + pd.to_timedelta(np.clip(rng.normal(15.0, 2.0, n), 0.1, 23.9), unit="h")
    )
    stay_days = rng.integers(1, 6, n)
    disch = (
        admit.normalize()
        + pd.to_timedelta(stay_days, unit="D")
        + pd.to_timedelta(np.clip(rng.normal(10.0, 2.0, n), 0.1, 23.9), unit="h")
    )
    df = pd.DataFrame(
        {
            "admittime": admit.strftime("%Y-%m-%d %H:%M:%S"),
            "dischtime": disch.strftime("%Y-%m-%d %H:%M:%S"),
            "ward": rng.choice(["A", "B"], n),
        }
    )
    model = MedGAN(epsilon=3.0, random_state=0, **FAST).fit(df)
    assert model.date_gaps_ == (DateGap("dischtime", "admittime", dtype="object"),)
    assert "marginals:hours" in [m.name for m in model.privacy_.mechanisms]  # charged, recomputable
    assert model.schema_["admittime"].time_of_day is not None
    assert model.schema_["dischtime"].time_of_day is not None  # the gap column carries its date's times
    out = model.sample(2000, random_state=1)
    a, d = pd.to_datetime(out["admittime"]), pd.to_datetime(out["dischtime"])
    assert abs(a.dt.hour.mean() - 14.5) < 1.5 and abs(d.dt.hour.mean() - 9.5) < 1.5
    assert (d >= a).all()
    model.save(str(tmp_path / "m"))
    loaded = ehrsynth.load(str(tmp_path / "m"))
    assert loaded.schema_["admittime"].time_of_day == model.schema_["admittime"].time_of_day
    pd.testing.assert_frame_equal(loaded.sample(50, random_state=2), model.sample(50, random_state=2))
