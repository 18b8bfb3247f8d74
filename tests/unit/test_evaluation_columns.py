"""Column typing (schema or inference on train) and coercion of the three tables to those kinds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.errors import InvalidDataError, SchemaError, UnsupportedFileError
from ehrsynth.evaluation.columns import check_frame, infer_kinds, plan_columns, schema_kinds
from ehrsynth.evaluation.prepare import MISSING, category_strings, prepare


def mixed_table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "subject_id": np.arange(n) + 100,
            "encounter": [f"E{i:05d}" for i in range(n)],
            "dx_250": rng.integers(0, 2, n),
            "flag": rng.random(n) < 0.3,
            "admission_type_id": rng.integers(1, 6, n),
            "n_visits": rng.poisson(2.0, n),
            "bmi": np.round(rng.normal(27, 4, n), 1),
            "delta": rng.integers(-3, 4, n),
            "race": rng.choice(["A", "B", "C"], n),
            "admitted": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "empty": [np.nan] * n,
        }
    )


def test_inference_rules() -> None:
    plan = infer_kinds(mixed_table())
    assert plan.kinds == {
        "dx_250": "binary",
        "flag": "binary",
        "admission_type_id": "categorical",
        "n_visits": "count",
        "bmi": "continuous",
        "delta": "continuous",
        "race": "categorical",
        "admitted": "datetime",
    }
    assert set(plan.excluded) == {"subject_id", "encounter", "empty"}
    assert plan.excluded["empty"] == "only missing values"
    assert "every value is distinct" in plan.excluded["encounter"]
    assert plan.numeric == ["n_visits", "bmi", "delta", "admitted"]
    d = plan.to_dict()
    assert d["source"] == "inferred" and d["binary"] == ["dx_250", "flag"] and "subject_id" in d["excluded"]


def test_schema_kinds_from_path_dict_and_object(tmp_path: Path) -> None:
    spec = {
        "version": 1,
        "columns": [{"name": "a", "kind": "binary", "nullable": False}, {"name": "b", "kind": "count"}],
    }
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(spec))

    class Obj:
        def to_dict(self) -> dict[str, object]:
            return spec

    assert schema_kinds(path) == schema_kinds(str(path)) == schema_kinds(spec) == schema_kinds(Obj())
    assert schema_kinds(spec) == {"a": "binary", "b": "count"}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"cols": []}, "'columns' list"),
        ({"columns": [{"name": "a"}]}, "needs a string 'name' and a 'kind'"),
        ({"columns": [{"name": "a", "kind": "text"}]}, "kind 'text'; allowed"),
        ({"columns": [{"name": "a", "kind": "binary"}, {"name": "a", "kind": "count"}]}, "twice"),
    ],
)
def test_bad_schemas(spec: dict[str, object], match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        schema_kinds(spec)


def test_schema_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileError, match=r"must be a \.json file"):
        schema_kinds(tmp_path / "schema.yaml")
    with pytest.raises(SchemaError, match="does not exist"):
        schema_kinds(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SchemaError, match="not valid JSON"):
        schema_kinds(broken)


def test_plan_from_schema_excludes_unlisted_and_identifiers() -> None:
    df = mixed_table()
    plan = plan_columns(
        df, {"columns": [{"name": "dx_250", "kind": "binary"}, {"name": "bmi", "kind": "identifier"}]}
    )
    assert plan.kinds == {"dx_250": "binary"} and plan.source == "schema"
    assert plan.excluded["bmi"] == "identifier (schema)" and plan.excluded["race"] == "not in the schema"
    with pytest.raises(InvalidDataError, match="no column of the training table can be evaluated"):
        plan_columns(df[["subject_id", "empty"]], None)


def test_check_frame() -> None:
    with pytest.raises(InvalidDataError, match="test table is empty or too small"):
        check_frame(pd.DataFrame({"a": [1]}), "test")
    with pytest.raises(InvalidDataError, match="non-string column names"):
        check_frame(pd.DataFrame({0: [1, 2]}), "train")
    dup = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])
    with pytest.raises(InvalidDataError, match="duplicate column names"):
        check_frame(dup, "train")


def test_prepare_coerces_consistently_across_tables() -> None:
    train = mixed_table()
    plan = infer_kinds(train)
    other = train.copy()
    other["dx_250"] = other["dx_250"].map({0: "false", 1: "True"})  # text booleans are accepted
    other["admission_type_id"] = other["admission_type_id"].astype(float)  # 3.0 is the category "3"
    other.loc[0, "race"] = np.nan
    a, b = prepare(train, plan, "training"), prepare(other, plan, "synthetic")
    np.testing.assert_array_equal(a.binary, b.binary)
    np.testing.assert_array_equal(a.categorical["admission_type_id"], b.categorical["admission_type_id"])
    assert b.categorical["race"][0] == MISSING
    days = a.numeric[:, plan.numeric.index("admitted")]
    assert days[0] == (pd.Timestamp("2020-01-01") - pd.Timestamp("1970-01-01")).days and np.all(
        np.diff(days) == 1
    )


def test_prepare_rejects_values_of_the_wrong_kind() -> None:
    train = mixed_table()
    plan = infer_kinds(train)
    bad = train.assign(dx_250=train["dx_250"].astype(object))
    bad.loc[2, "dx_250"] = "maybe"
    with pytest.raises(InvalidDataError, match="binary column 'dx_250' of the synthetic table holds 'maybe'"):
        prepare(bad, plan, "synthetic")
    with pytest.raises(InvalidDataError, match=r"datetime column 'admitted'.*'soon'"):
        prepare(train.assign(admitted="soon"), plan, "test")
    with pytest.raises(InvalidDataError, match="infinite"):
        prepare(train.assign(bmi=np.inf), plan, "test")


def test_category_strings() -> None:
    assert category_strings(pd.Series([1.0, 2.0, np.nan])).tolist() == ["1", "2", MISSING]
    assert category_strings(pd.Series([1.5, np.nan])).tolist() == ["1.5", MISSING]
    assert category_strings(pd.Series(["a", None, 3.0, 2])).tolist() == ["a", MISSING, "3", "2"]


def test_numbers_named_as_codes_are_evaluated_as_categories_like_the_synthesizer_models_them() -> None:
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"cpt_cd": rng.integers(10_000, 99_999, n), "num_codes": rng.integers(0, 9, n)})
    kinds = infer_kinds(df).kinds
    assert kinds["cpt_cd"] == "categorical" and kinds["num_codes"] == "count"
