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


def test_worker_reports_the_measure_engine_unavailable_until_it_exists(tmp_path: Path) -> None:
    import inspect

    from ehrsynth import MedGAN

    if "engine" in inspect.signature(MedGAN.__init__).parameters:
        pytest.skip("MedGAN has an engine parameter: ehrsynth_measure runs for real")
    df = _frame(50)
    df.to_csv(tmp_path / "train.csv", index=False)
    cfg = {"columns": infer_schema(df), "seed": 0, "delta": 1e-5, "n_synthetic": 10}
    (tmp_path / "schema.json").write_text(json.dumps(cfg))
    cmd = [sys.executable, str(BASELINES / "worker.py"), "--method", "ehrsynth_measure", "--out", "e"]
    res = run_limited([*cmd, "--workdir", str(tmp_path), "--epsilon", "1"], 120, tmp_path / "log")
    assert res.returncode == 3, res.log_tail
    meta = json.loads((tmp_path / "e.json").read_text())
    assert meta["status"] == "unavailable" and "engine not implemented" in meta["reason"]


def test_pgm_helpers_count_pairs_and_compress_without_mbi() -> None:
    from pgm_mechanisms import block_l1, compress, gumbel_order, pair_counts, to_codes

    df = _frame(300)
    schema = infer_schema(df)
    codes, values = to_codes(df, schema)
    sizes = np.array([len(v) for v in values])
    assert (codes < sizes).all() and (codes >= 0).all()
    counts, offsets = pair_counts(codes, sizes, chunk=64)
    a, b = 0, 2  # dx_a × race, by brute force
    block = counts[offsets[a] : offsets[a] + sizes[a], offsets[b] : offsets[b] + sizes[b]]
    brute = np.zeros_like(block)
    np.add.at(brute, (codes[:, a], codes[:, b]), 1)
    assert np.array_equal(block, brute)
    assert block_l1(counts - counts, offsets).sum() == 0
    mapping, keep = compress(np.array([50.0, 1.0, 40.0, -3.0]), sigma=5.0)
    assert keep.tolist() == [True, False, True, False] and mapping.tolist() == [0, 2, 1, 2]
    rng = np.random.default_rng(0)
    firsts = [gumbel_order(np.array([0.0, 0.0, 100.0]), 1.0, rng)[0] for _ in range(50)]
    assert firsts.count(2) > 45  # a clearly best score is picked almost always at ε₀ = 1


def test_fidelity_report_renders_references_and_failures(tmp_path: Path) -> None:
    from fidelity_report import render

    ok = {"status": "ok", "tvd_2way_mean": 0.01, "auroc_synthetic": 0.6, "fit_seconds": 3.0}
    runs = [
        {"method": "real_holdout", "epsilon": None, "seed": 0} | ok,
        {"method": "ehrsynth_measure", "epsilon": None, "seed": 0} | ok | {"auroc_synthetic": 0.7},
        {"method": "pgm_mst", "epsilon": 1.0, "seed": 0} | ok,
        {"method": "pgm_mst", "epsilon": 1.0, "seed": 1} | ok | {"tvd_2way_mean": 0.03},
        {
            "method": "pgm_aim",
            "epsilon": 1.0,
            "seed": 0,
            "status": "timeout",
            "reason": "timeout after 600 s",
        },
    ]
    env = {"date": "2026-11-30", "python": "3.11", "torch": "2.13", "cpus": 2, "load_average_1min": 3.0}
    result = {
        "rows": 100,
        "columns": 28,
        "n_codes": 20,
        "command": "x",
        "environment": env,
        "config": {"timeout_s": 600, "delta": 1e-5},
        "runs": runs,
    }
    (tmp_path / "results").mkdir()
    text = render(result, tmp_path / "results" / "r.json")
    assert "| real_holdout | 0.0100 |" in text
    assert "| pgm_mst (n=2) | 0.0200 ± 0.0141 |" in text
    assert "| pgm_aim | timeout: timeout after 600 s |" in text
    # an engine fitted without DP (--no-dp) is a reference row, named as such and explained
    assert "| ehrsynth_measure (no DP) | 0.0100 |" in text
    assert "- ehrsynth_* (no DP):" in text


def test_codes_per_row_tvd_compares_the_number_of_codes_per_patient() -> None:
    sys.path.insert(0, str(BASELINES.parent))
    from fidelity_bench import codes_per_row_tvd

    kinds = {"columns": [{"name": "a", "kind": "binary"}, {"name": "b", "kind": "binary"},
                         {"name": "age", "kind": "count"}]}  # fmt: skip
    real = pd.DataFrame({"a": [1, 1, 0, 0], "b": [1, 0, 0, 1], "age": [30, 40, 50, 60]})
    assert codes_per_row_tvd(real, real.sample(frac=1.0, random_state=0), kinds) == 0.0
    # same 1-way marginals (a: 1/2, b: 1/2), other rows: 2, 0, 0, 2 codes instead of 2, 1, 0, 1
    moved = pd.DataFrame({"a": [1, 0, 0, 1], "b": [1, 0, 0, 1], "age": [30, 40, 50, 60]})
    assert codes_per_row_tvd(real, moved, kinds) == pytest.approx(0.5)
