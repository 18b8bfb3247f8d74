"""Smoke tests of the peer-benchmark pieces that need no extra venv (benchmarks/baselines)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BASELINES = Path(__file__).resolve().parents[2] / "benchmarks" / "baselines"
sys.path.insert(0, str(BASELINES))

from dp_marginals import DPIndependentMarginals, epsilon_of, zcdp_rho  # noqa: E402
from subproc import run_limited  # noqa: E402
from tabular import discretize, infer_schema, undiscretize  # noqa: E402


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "dx_a": (rng.random(n) < 0.3).astype(np.int64),
            "dx_b": (rng.random(n) < 0.05).astype(np.int64),
            "race": np.array(["A", "B", None], dtype=object)[rng.integers(0, 3, size=n)],
            "age": rng.integers(18, 90, size=n),
        }
    )


@settings(max_examples=50, deadline=None)
@given(eps=st.floats(0.01, 50.0), log_delta=st.floats(-12, -3))
def test_zcdp_conversion_hits_the_target_epsilon(eps: float, log_delta: float) -> None:
    delta = 10.0**log_delta
    assert epsilon_of(zcdp_rho(eps, delta), delta) == pytest.approx(eps, rel=1e-9)


def test_marginals_noise_grows_with_columns_and_shrinks_with_epsilon() -> None:
    df = _frame()
    schema = infer_schema(df)
    small = DPIndependentMarginals(1.0, 1e-5).fit(df, schema)
    large = DPIndependentMarginals(10.0, 1e-5).fit(df, schema)
    assert small.sigma_ > large.sigma_
    assert small.sigma_ == pytest.approx(math.sqrt(len(schema) / (2 * zcdp_rho(1.0, 1e-5))))


def test_nondp_marginals_keep_prevalences_and_kinds() -> None:
    df = _frame(4000)
    schema = infer_schema(df)
    synth = DPIndependentMarginals(None, 1e-5, random_state=0).fit(df, schema).sample(4000, random_state=1)
    assert list(synth.columns) == list(df.columns)
    assert set(synth["dx_a"].unique()) <= {0, 1}
    assert abs(synth["dx_a"].mean() - df["dx_a"].mean()) < 0.03
    assert synth["age"].between(18, 89).all()


def test_discretize_round_trip_keeps_categories_and_missing() -> None:
    df = _frame()
    schema = infer_schema(df)
    back = undiscretize(discretize(df, schema), schema, np.random.default_rng(0))
    assert (back["dx_a"] == df["dx_a"]).all()
    assert (back["race"].isna() == df["race"].isna()).all()
    assert (np.abs(back["age"] - df["age"]) <= (89 - 18) / 20 + 1).all()


def test_timeout_is_a_result_not_a_crash(tmp_path: Path) -> None:
    res = run_limited([sys.executable, "-c", "import time; time.sleep(30)"], 0.5, tmp_path / "log.txt")
    assert res.returncode is None
    assert res.wall_seconds < 10


def test_worker_runs_marginals_and_reports_an_unavailable_peer(tmp_path: Path) -> None:
    df = _frame()
    df.to_csv(tmp_path / "train.csv", index=False)
    cfg = {"columns": infer_schema(df), "seed": 0, "delta": 1e-5, "n_synthetic": 100, "ctgan_epochs": 1}
    (tmp_path / "schema.json").write_text(json.dumps(cfg))
    worker = str(BASELINES / "worker.py")
    args = ["--workdir", str(tmp_path), "--epsilon", "1"]
    ok = run_limited(
        [sys.executable, worker, "--method", "dp_marginals", "--out", "m", *args], 60, tmp_path / "a"
    )
    assert ok.returncode == 0, ok.log_tail
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["status"] == "ok" and meta["epsilon_spent"] == 1.0
    assert len(pd.read_csv(tmp_path / "m.csv")) == 100
    try:
        import snsynth  # noqa: F401

        pytest.skip("smartnoise is installed in this environment")
    except ImportError:
        pass
    res = run_limited(
        [sys.executable, worker, "--method", "smartnoise_mst", "--out", "s", *args], 60, tmp_path / "b"
    )
    assert res.returncode == 3
    assert json.loads((tmp_path / "s.json").read_text())["status"] == "unavailable"
