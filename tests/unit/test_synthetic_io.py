"""Typed round trip of synthetic tables (issue 14.1/14.10) and CSV formula neutralisation (issue 13.4)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehrsynth.io.csv_safety import neutralise_text, restore_text
from ehrsynth.io.synthetic import read_synthetic, sidecar_path, write_synthetic
from ehrsynth.schema import Schema

PRIVACY = {"epsilon": 2.0, "delta": 1e-5, "epsilon_spent": 1.98, "accountant": "prv"}
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=8
)
FORMULAS = ['=HYPERLINK("http://x","y")', "+SUM(1+1)", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)", "\tx", "\rx"]


def _typed_frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.linspace(20.5, 80.25, n),
            "visits": np.arange(n, dtype="int64"),
            "labs": pd.array([1, None, 3, 4, None, 6][:n], dtype="Int64"),
            "sex": pd.Categorical(["F", "M", "F", "F", "M", "F"][:n], categories=["F", "M", "X"]),
            "arm": pd.Categorical([0, 1, 2, 1, 0, None][:n], categories=[0, 1, 2, 3]),
            "admit": pd.to_datetime(
                ["2020-01-01", "2021-02-03", None, "2019-12-31", "2020-06-06", "2020-07-07"][:n]
            ),
            "flag": np.array([0, 1, 1, 0, 1, 0][:n], dtype="uint8"),
            "note": pd.Series(["a", np.nan, "b,c", 'd"e', "NA", "-3"][:n], dtype=object),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_round_trip_restores_dtypes_and_attrs(tmp_path: Path, suffix: str) -> None:
    df = _typed_frame()
    schema = Schema.infer(df.astype({"sex": object}).drop(columns=["arm", "note"]))
    out = tmp_path / f"s{suffix}"
    write_synthetic(df, out, schema=schema, privacy=PRIVACY)
    back = read_synthetic(out)
    pd.testing.assert_frame_equal(back, df)
    assert list(back["sex"].cat.categories) == ["F", "M", "X"]
    meta = back.attrs["ehrsynth"]
    assert meta["privacy"]["epsilon"] == 2.0 and meta["privacy"]["private"] is True
    assert meta["schema"] == schema.to_dict() and meta["sha256_ok"] is True
    assert meta["library_version"]


def test_schema_categoricals_come_back_as_category(tmp_path: Path) -> None:
    df = pd.DataFrame({"race": ["B", "A", np.nan, "B"], "arm": np.array([2, 0, 1, 2], dtype="int64")})
    schema = Schema.infer(df)
    assert schema["race"].categories == ["A", "B"] and schema["arm"].categories == [0, 1, 2]
    out = tmp_path / "s.csv"
    write_synthetic(df, out, schema=schema, privacy=None)
    back = read_synthetic(out)
    assert list(back["race"].cat.categories) == ["A", "B"] and back["race"].isna().sum() == 1
    # integer codes keep the input's integer dtype (the synthesize contract); text categories become category
    assert back["arm"].dtype == np.int64 and back["arm"].tolist() == [2, 0, 1, 2]


def test_parquet_keeps_dtypes_natively(tmp_path: Path) -> None:
    # parquet stores categoricals with numeric categories as plain numbers; read_synthetic restores those too
    df = _typed_frame().drop(columns=["arm"]).fillna({"note": "x"})  # pyarrow reads missing text as None
    out = tmp_path / "s.parquet"
    write_synthetic(df, out, schema=None, privacy=None)
    pd.testing.assert_frame_equal(pd.read_parquet(out), df)


def test_modified_file_is_flagged(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    write_synthetic(_typed_frame(), out, schema=None, privacy=None)
    out.write_text(out.read_text() + "\n")
    with pytest.warns(UserWarning, match="modified"):
        back = read_synthetic(out)
    assert back.attrs["ehrsynth"]["sha256_ok"] is False


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 8))
    floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
    ints = st.integers(-(2**62), 2**62)
    cats = draw(st.lists(TEXT | st.sampled_from(FORMULAS), min_size=1, max_size=4, unique=True))
    cols: dict[str, pd.Series] = {
        "f": pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype="float64"),
        "i": pd.Series(draw(st.lists(ints, min_size=n, max_size=n)), dtype="int64"),
        "g": pd.Series(
            draw(st.lists(st.floats(width=32, allow_nan=False), min_size=n, max_size=n)), dtype="float32"
        ),
        "b": pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype="bool"),
        "u": pd.Series(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)), dtype="uint8"),
        "n": pd.Series(draw(st.lists(st.none() | ints, min_size=n, max_size=n)), dtype="Int64"),
        "c": pd.Series(
            pd.Categorical(
                draw(st.lists(st.none() | st.sampled_from(cats), min_size=n, max_size=n)), categories=cats
            )
        ),
        "t": pd.Series(draw(st.lists(st.none() | TEXT, min_size=n, max_size=n)), dtype=object),
        "d": pd.Series(
            draw(
                st.lists(
                    st.none()
                    | st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
                    min_size=n,
                    max_size=n,
                )
            ),
            dtype="datetime64[ns]",
        ),
    }
    header = draw(st.sampled_from(["h", "=1+2", "@x", "'=y"]))
    df = pd.DataFrame(cols)
    df["t"] = df["t"].where(df["t"].notna(), np.nan)
    return df.rename(columns={"t": header}) if header != "h" else df


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(df=frames())
def test_hypothesis_csv_round_trip(tmp_path: Path, df: pd.DataFrame) -> None:
    out = tmp_path / "h.csv"
    write_synthetic(df, out, schema=None, privacy=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_synthetic(out)
    pd.testing.assert_frame_equal(back, df)


@given(TEXT | st.sampled_from(FORMULAS) | st.from_regex(r"'*[=+\-@]\w*", fullmatch=True))
def test_neutralise_is_undone_exactly(value: str) -> None:
    safe = neutralise_text(value)
    assert restore_text(safe) == value
    assert not safe or safe[0] not in "=+-@\t\r" or safe.lstrip("+-").replace(".", "", 1).isdigit()


def test_formula_cells_and_headers_are_neutralised(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "dx": pd.Categorical([*FORMULAS[:4], "ok", "-3"]),
            "=1+2": ["-2.5", "@x", "fine", "+1", "=A1", "-1e5"],
            "temp": [-3.0, -2.5, 1.0, 0.0, 2.0, 3.0],
            "delta": np.array([-3, -2, -1, 0, 1, 2], dtype="int64"),
        }
    )
    out = tmp_path / "s.csv"
    write_synthetic(df, out, schema=None, privacy=None)
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(raw.columns) == ["dx", "'=1+2", "temp", "delta"]
    assert set(raw["dx"]) == {"'" + f for f in FORMULAS[:4]} | {"ok", "-3"}
    assert list(raw["'=1+2"]) == ["-2.5", "'@x", "fine", "+1", "'=A1", "-1e5"]
    assert list(raw["temp"]) == ["-3.0", "-2.5", "1.0", "0.0", "2.0", "3.0"]  # numbers stay numbers
    assert list(raw["delta"])[:2] == ["-3", "-2"]
    text = out.read_text()
    assert (
        "\n=" not in text
        and "\n@" not in text
        and ",=" not in text
        and ",@" not in text
        and ",+SUM" not in text
    )
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["csv_formula_neutralised"] is True
    assert meta["csv_neutralised_columns"] == ["dx", "=1+2"]
    assert meta["csv_neutralised_headers"] == ["=1+2"]
    pd.testing.assert_frame_equal(read_synthetic(out), df)


def test_neutralisation_can_be_turned_off(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    write_synthetic(pd.DataFrame({"x": ["=1+2"]}), out, schema=None, privacy=None, neutralise_formulas=False)
    assert "'=" not in out.read_text()
    assert json.loads(sidecar_path(out).read_text())["csv_formula_neutralised"] is False
    assert read_synthetic(out)["x"].tolist() == ["=1+2"]
