"""Column-level disclosure attack (issue 13 items 10 and 11): identifier-like columns copied value by value
come out high; a synthetic table drawn from the population stays low."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrsynth.privacy import audit
from ehrsynth.privacy.attacks.column_disclosure import comparable, nearly_unique

FIRST = [f"First{i:03d}" for i in range(300)]
LAST = [f"Last{i:03d}" for i in range(400)]


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "first_name": rng.choice(FIRST, n),
            "last_name": rng.choice(LAST, n),
            "licence": [f"D{v:08d}" for v in rng.integers(0, 10**8, n)],
            "passport": [f"P{v:09d}" for v in rng.integers(0, 10**9, n)],
            "age": rng.integers(18, 95, n),
            "sex": rng.choice(["F", "M"], n),
            "smoker": rng.integers(0, 2, n),
        }
    )


def copied(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A 'synthetic' table whose identifier columns are training values, shuffled (no training row is kept)."""
    rng = np.random.default_rng(seed)
    out = people(len(train), seed)
    for name in ("first_name", "last_name", "licence", "passport"):
        out[name] = train[name].to_numpy()[rng.permutation(len(train))]
    return out


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    train = people(56, 1)
    return {"train": train, "holdout": people(56, 2), "copied": copied(train, 3), "fresh": people(56, 4)}


def test_copied_identifier_columns_are_high(small: dict[str, pd.DataFrame]) -> None:
    report = audit(small["train"], small["holdout"], small["copied"], n_bootstrap=200)
    d = report.to_dict()
    cd = d["attacks"]["column_disclosure"]
    assert report.verdict == "high" and d["verdicts"]["column_disclosure"] == "high"
    assert {"licence", "passport"} <= set(cd["columns"])
    assert (
        cd["columns"]["passport"]["attack_rate"] == 1.0 and cd["columns"]["passport"]["control_rate"] == 0.0
    )
    assert "P0" not in report.to_json().replace('"passport"', "")  # values are never reported
    assert any(line.startswith("Column disclosure") for line in report.summary())
    assert "Column disclosure" in report.to_html()


def test_fresh_values_stay_low(small: dict[str, pd.DataFrame]) -> None:
    report = audit(small["train"], small["holdout"], small["fresh"], n_bootstrap=200)
    cd = report.to_dict()["attacks"]["column_disclosure"]
    assert cd["verdict"] == "low"
    assert all(c["risk_ci"][0] < 0.09 for c in cd["columns"].values())


def test_nearly_unique_ids_with_a_gap_and_a_duplicate_are_identifiers() -> None:
    rng = np.random.default_rng(0)
    n = 303
    ssn = pd.Series([f"{v:03d}-{w:02d}-{x:04d}" for v, w, x in rng.integers(100, 999, (n, 3))], dtype=object)
    ssn[5] = None
    ssn[7] = ssn[8]
    assert nearly_unique(ssn)
    assert not nearly_unique(pd.Series(rng.normal(size=n)))  # measurements are not keys
    assert not nearly_unique(pd.Series(rng.choice(["a", "b"], n)))


def test_ssn_column_with_a_missing_value_copied_is_high() -> None:
    def table(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        ssn = pd.Series([f"{v:09d}" for v in rng.integers(10**8, 10**9, n)], dtype=object)
        ssn[0] = None
        return pd.DataFrame(
            {"ssn_number": ssn, "age": rng.integers(18, 95, n), "sex": rng.choice(["F", "M"], n)}
        )

    train, holdout = table(303, 1), table(303, 2)
    synthetic = table(303, 3)
    synthetic["ssn_number"] = train["ssn_number"].sample(frac=1.0, random_state=0).to_numpy()
    d = audit(train, holdout, synthetic, n_bootstrap=200).to_dict()
    cd = d["attacks"]["column_disclosure"]
    assert cd["identifier_like"]["ssn_number"]
    assert cd["columns"]["ssn_number"]["attack_rate"] == 1.0
    assert d["verdict"] == "high"


def test_comparable_values_match_across_dtypes() -> None:
    ints = comparable(pd.Series([5, 6], dtype="Int64"))
    floats = comparable(pd.Series([5.0, None, 6.0]))
    assert list(ints) == list(floats)
    assert list(comparable(pd.Series(["a ", "b"], dtype="category"))) == ["a", "b"]
