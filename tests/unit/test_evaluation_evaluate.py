"""evaluate() end to end on generated data with known dependence: a fresh sample of the generating model
(a "decent" synthesizer) must beat a column-shuffled copy of train (marginals kept, dependence destroyed)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ehrsynth.errors import InvalidDataError, InvalidParameterError, SchemaError
from ehrsynth.evaluation import EvaluationReport, column_shuffled, evaluate, independent_marginals


def make_table(n: int, seed: int, n_codes: int = 24) -> pd.DataFrame:
    """Patient × code table from a sparse 8-factor latent model (each code loads on 2 factors), plus sex, age,
    a visit count and a binary outcome driven by the factors."""
    rng = np.random.default_rng(seed)
    gen = np.random.default_rng(1234)  # the model's parameters are fixed; only the sample changes with seed
    loadings = np.zeros((8, n_codes))
    for j in range(n_codes):
        loadings[gen.choice(8, size=2, replace=False), j] = gen.normal(0.0, 1.6, size=2)
    bias = gen.uniform(-2.5, -0.3, size=n_codes)
    z = rng.normal(size=(n, 8))
    codes = (rng.random((n, n_codes)) < 1 / (1 + np.exp(-(z @ loadings + bias)))).astype(np.uint8)
    df = pd.DataFrame(codes, columns=[f"dx_{i:03d}" for i in range(n_codes)])
    df.insert(0, "patient_id", np.arange(n) + 10_000 * seed)
    df["sex"] = np.where(z[:, 0] + rng.normal(0, 0.7, n) > 0, "F", "M")
    df["age"] = np.round(55 + 12 * z[:, 1] + rng.normal(0, 5, n), 1)
    df["visits"] = rng.poisson(np.exp(0.4 + 0.5 * z[:, 2]))
    df["outcome"] = np.where(z[:, 0] - z[:, 2] + rng.normal(0, 0.8, n) > 0.3, "yes", "no")
    return df


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    train = make_table(2500, seed=1)
    return {
        "train": train,
        "test": make_table(1500, seed=2),
        "decent": make_table(2500, seed=3),
        "shuffled": column_shuffled(train, random_state=7),
    }


@pytest.fixture(scope="module")
def reports(tables: dict[str, pd.DataFrame]) -> dict[str, EvaluationReport]:
    t = tables
    return {
        name: evaluate(t["train"], t["test"], t[name], target="outcome", top_k=20, random_state=0)
        for name in ("train", "decent", "shuffled")
    }


def test_required_keys_and_json(reports: dict[str, EvaluationReport]) -> None:
    d = reports["decent"].to_dict()
    text = json.dumps(d, allow_nan=False)  # strict JSON: no NaN / numpy types
    assert json.loads(text) == d
    for section, key in [
        ("dimension_wise_probability", "pearson_r"),
        ("dimension_wise_prediction", "auroc_real"),
        ("dimension_wise_prediction", "auroc_synthetic"),
        ("dimension_wise_prediction", "f1_synthetic"),
        ("pairwise", "correlation_mae"),
        ("marginals", "tvd_mean"),
        ("marginals", "ks_mean"),
        ("tstr", "auroc_synthetic"),
        ("tstr", "auroc_real"),
        ("count", "rmse"),  # one count column: r is undefined (None)
    ]:
        assert isinstance(d[section][key], float), (section, key)
    assert "sdmetrics_quality" in d and d["sdmetrics_note"]
    assert d["columns"]["excluded"] == {"patient_id": "identifier-like: key name and mostly distinct values"}
    assert d["columns"]["count"] == ["visits"] and d["columns"]["continuous"] == ["age"]
    assert d["columns"]["categorical"] == ["sex", "outcome"]
    pred = d["dimension_wise_prediction"]
    assert len(pred["codes"]) == len(pred["per_code"]["auroc_synthetic"]) == pred["n_evaluated"] == 20
    assert set(d["marginals"]["tvd"]) == {"sex", "outcome"} and set(d["marginals"]["ks"]) == {"age", "visits"}


def test_train_as_synthetic_is_perfect(reports: dict[str, EvaluationReport]) -> None:
    d = reports["train"].to_dict()
    assert d["dimension_wise_probability"]["rmse"] == 0.0
    assert d["pairwise"]["correlation_mae"] == 0.0
    assert d["marginals"]["tvd_mean"] == 0.0 and d["marginals"]["ks_mean"] == 0.0
    pred = d["dimension_wise_prediction"]
    assert pred["per_code"]["auroc_real"] == pred["per_code"]["auroc_synthetic"]
    assert d["tstr"]["auroc_real"] == d["tstr"]["auroc_synthetic"]


def test_shuffled_copy_is_penalised(reports: dict[str, EvaluationReport]) -> None:
    decent, shuffled = reports["decent"].to_dict(), reports["shuffled"].to_dict()
    # marginals are exact for the shuffled copy: one-column metrics cannot see the damage ...
    assert shuffled["dimension_wise_probability"]["rmse"] == 0.0
    assert shuffled["marginals"]["tvd_mean"] == 0.0
    # ... but every dependence metric does
    assert shuffled["pairwise"]["correlation_mae"] > 3 * decent["pairwise"]["correlation_mae"]
    assert shuffled["pairwise"]["correlation_r"] < 0.3 < 0.9 < decent["pairwise"]["correlation_r"]
    assert (
        shuffled["pairwise"]["cooccurrence"]["relative_error"]
        > 2 * decent["pairwise"]["cooccurrence"]["relative_error"]
    )
    assert abs(shuffled["dimension_wise_prediction"]["auroc_synthetic"] - 0.5) < 0.05
    assert decent["dimension_wise_prediction"]["auroc_synthetic"] > 0.7
    # TSTR: a model fitted on noise has random, small coefficients: its AUROC is 0.5 only on average (a
    # single target can land 0.1 away), its Brier skill stays at about 0
    assert abs(shuffled["tstr"]["auroc_synthetic"] - 0.5) < 0.15
    assert decent["tstr"]["auroc_synthetic"] > 0.8 > shuffled["tstr"]["auroc_synthetic"] + 0.15
    assert shuffled["tstr"]["brier_skill_synthetic"] < 0.05 < 0.25 < decent["tstr"]["brier_skill_synthetic"]
    assert decent["tstr"]["auroc_synthetic"] <= decent["tstr"]["auroc_real"] + 0.02


def test_baselines_bracket_the_scores(reports: dict[str, EvaluationReport]) -> None:
    d = reports["decent"].to_dict()
    floor = d["baselines"]["independent_marginals"]
    holdout = d["baselines"]["holdout"]
    assert floor["dimension_wise_probability"]["pearson_r"] > 0.95  # marginals right ...
    assert abs(floor["dimension_wise_prediction"]["auroc_synthetic"] - 0.5) < 0.05  # ... dependence gone
    assert floor["pairwise"]["correlation_mae"] > 3 * d["pairwise"]["correlation_mae"]
    assert (
        abs(floor["tstr"]["auroc_synthetic"] - 0.5) < 0.15 and floor["tstr"]["brier_skill_synthetic"] < 0.05
    )
    assert holdout["pairwise"]["correlation_mae"] < floor["pairwise"]["correlation_mae"]
    assert "dimension_wise_prediction" not in holdout  # training on test and testing on it is not a reference


def test_deterministic_given_seed(
    tables: dict[str, pd.DataFrame], reports: dict[str, EvaluationReport]
) -> None:
    t = tables
    again = evaluate(t["train"], t["test"], t["decent"], target="outcome", top_k=20, random_state=0).to_dict()
    first = reports["decent"].to_dict()
    for key in ("timing_s", "cpu_time_s"):
        assert first.pop(key)["total"] > 0
        again.pop(key)
    assert again == first


def test_schema_overrides_inference(tables: dict[str, pd.DataFrame]) -> None:
    t = tables
    schema = {
        "columns": [{"name": c, "kind": "binary"} for c in t["train"].columns if c.startswith("dx_")]
        + [
            {"name": "patient_id", "kind": "identifier"},
            {"name": "sex", "kind": "categorical"},
            {"name": "age", "kind": "continuous"},
            {"name": "visits", "kind": "categorical"},  # declared categorical: TVD instead of KS
        ]
    }
    d = evaluate(t["train"], t["test"], t["decent"], schema=schema, top_k=5, baselines=False).to_dict()
    assert d["columns"]["source"] == "schema"
    assert d["columns"]["excluded"] == {"patient_id": "identifier (schema)", "outcome": "not in the schema"}
    assert "visits" in d["marginals"]["tvd"] and d["count"] is None
    assert d["tstr"] is None and d["baselines"] is None
    bad = {"columns": [{"name": "nope", "kind": "binary"}]}
    with pytest.raises(SchemaError, match="'nope'"):
        evaluate(t["train"], t["test"], t["decent"], schema=bad)


def test_different_column_sets_are_listed(tables: dict[str, pd.DataFrame]) -> None:
    t = tables
    synth = t["decent"].drop(columns=["dx_003", "age"]).assign(extra=1)
    with pytest.raises(InvalidDataError, match=r"lacks 2 column.*'dx_003', 'age'.*has 1 column.*'extra'"):
        evaluate(t["train"], t["test"], synth)
    # an excluded identifier column may be missing from the synthetic table
    report = evaluate(t["train"], t["test"], t["decent"].drop(columns="patient_id"), top_k=3, baselines=False)
    assert report["data"]["n_synthetic"] == len(t["decent"])


def test_empty_and_bad_tables(tables: dict[str, pd.DataFrame]) -> None:
    t = tables
    with pytest.raises(InvalidDataError, match="synthetic table is empty"):
        evaluate(t["train"], t["test"], t["decent"].iloc[:0])
    with pytest.raises(InvalidDataError, match="training table is empty"):
        evaluate(pd.DataFrame(), t["test"], t["decent"])
    with pytest.raises(InvalidDataError, match="must be a pandas DataFrame"):
        evaluate(t["train"], t["test"].to_numpy(), t["decent"])
    bad = t["decent"].copy()
    bad["dx_001"] = bad["dx_001"] * 0.5  # probabilities, not 0/1
    with pytest.raises(InvalidDataError, match="binary column 'dx_001' of the synthetic table") as info:
        evaluate(t["train"], t["test"], bad)
    assert info.value.column == "dx_001"
    text = t["decent"].astype({"age": object})
    text.loc[3, "age"] = "old"
    with pytest.raises(InvalidDataError, match=r"continuous column 'age'.*'old'"):
        evaluate(t["train"], t["test"], text)


def test_target_errors(tables: dict[str, pd.DataFrame]) -> None:
    t = tables
    with pytest.raises(InvalidParameterError, match="'nope' is not in the training table") as info:
        evaluate(t["train"], t["test"], t["decent"], target="nope")
    assert info.value.column == "nope"
    with pytest.raises(InvalidParameterError, match="excluded"):
        evaluate(t["train"], t["test"], t["decent"], target="patient_id")
    one_class = t["train"].assign(outcome="no")
    with pytest.raises(InvalidDataError, match="only 'no' in the training table"):
        evaluate(one_class, t["test"], t["decent"], target="outcome")
    with pytest.raises(InvalidDataError, match="in the test table"):
        evaluate(t["train"], t["test"].assign(outcome="yes"), t["decent"], target="outcome")


def test_constant_synthetic_target_and_regression(tables: dict[str, pd.DataFrame]) -> None:
    t = tables
    d = evaluate(t["train"], t["test"], t["decent"].assign(outcome="no"), target="outcome", top_k=3).to_dict()
    assert d["tstr"]["auroc_synthetic"] == 0.5  # one-class training labels: constant prediction
    assert d["tstr"]["synthetic"]["constant_labels"] is True
    assert d["tstr"]["accuracy_synthetic"] == pytest.approx((t["test"]["outcome"] == "no").mean())
    r = evaluate(t["train"], t["test"], t["decent"], target="age", top_k=3, baselines=False).to_dict()["tstr"]
    assert r["task"] == "regression" and r["r2_real"] > 0.3 and r["r2_synthetic"] > 0.3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"random_state": "x"}, "random_state"),
        ({"baselines": "yes"}, "baselines"),
        ({"target": ""}, "target"),
    ],
)
def test_bad_parameters(tables: dict[str, pd.DataFrame], kwargs: dict[str, object], match: str) -> None:
    t = tables
    with pytest.raises(InvalidParameterError, match=match):
        evaluate(t["train"], t["test"], t["decent"], **kwargs)  # type: ignore[arg-type]


def test_independent_marginals_and_shuffle_keep_marginals(tables: dict[str, pd.DataFrame]) -> None:
    train = tables["train"]
    shuffled = column_shuffled(train, random_state=3)
    for col in train.columns:
        assert sorted(shuffled[col].tolist()) == sorted(train[col].tolist())
    assert not shuffled.equals(train)
    floor = independent_marginals(train, 4000, random_state=3)
    assert list(floor.columns) == list(train.columns) and len(floor) == 4000
    assert (floor.dtypes == train.dtypes).all()
    assert set(floor["sex"]) <= set(train["sex"])
    assert abs(floor["dx_000"].mean() - train["dx_000"].mean()) < 0.04
    assert independent_marginals(train, 50, random_state=9).equals(
        independent_marginals(train, 50, random_state=9)
    )
    with pytest.raises(InvalidParameterError, match="n must be a positive integer"):
        independent_marginals(train, 0)
