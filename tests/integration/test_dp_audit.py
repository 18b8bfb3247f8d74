"""dp_audit end to end on a small generated table: power without DP, claims that hold with DP, repeated runs.

The planted-bug check (DP-SGD noise forced to 0 while the accountant reports ε = 1) runs through the CLI in
tests/cli/test_audit_dp_cli.py; the same checks on 5,000 real patients are in test_dp_audit_real.py (slow).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import code_columns

from ehrsynth.dp_verify.runner import dp_audit

# A schedule long enough for a 300-row table to be memorised without DP (one GAN epoch keeps it fast; the
# autoencoder reconstruction attack is the strong one here).
SMALL = {"engine": "dpsgd", "ae_epochs": 150, "epochs": 1, "device": "cpu", "accountant": "rdp"}


def code_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """40 binary codes (1-25% prevalence), two categoricals, a count, a continuous column and an id."""
    rng = np.random.default_rng(seed)
    df = code_columns(rng, n, 40, 0.01, 0.25)
    df.insert(0, "patient_id", np.arange(1000, 1000 + n))
    df.insert(1, "sex", rng.choice(["F", "M"], n))
    df.insert(2, "age_band", rng.choice(["[0-20)", "[20-40)", "[40-60)", "[60-80)", "[80+)"], n))
    df["visits"] = rng.poisson(2, n)
    df["bmi"] = np.round(rng.normal(27, 4, n), 1)
    return df


def test_without_dp_a_memorising_model_gives_a_bound_well_above_half() -> None:
    report = dp_audit(code_table(), epsilon=None, canaries=200, random_state=0, **SMALL)
    data = report.to_dict()
    assert data["epsilon_claimed"] is None and not report.refuted
    assert report.epsilon_lower_bound > 0.5
    assert data["attack"].startswith("reconstruction") and data["attack_auc"] > 0.9
    (run,) = data["runs_detail"]
    assert run["training_rows"] == 300 + run["canaries_in"]
    assert run["epsilon_spent"] is None
    assert data["delta"] == 1e-5  # default_delta(rows + canaries) = min(1e-5, 1 / (10 n)), fixed up front


@pytest.mark.parametrize(
    ("epsilon", "ae_epochs"),
    [(1.0, 150), pytest.param(4.0, 100, marks=pytest.mark.slow)],  # ε=4: test-slow
)
def test_correct_dp_training_stays_below_the_claim(epsilon: float, ae_epochs: int) -> None:
    """At eps = 1 with the very schedule on which the noise-free bug is caught (tests/cli), and at eps = 4."""
    params = {**SMALL, "ae_epochs": ae_epochs}
    report = dp_audit(code_table(), epsilon=epsilon, canaries=200, random_state=0, **params)
    data = report.to_dict()
    assert not report.refuted
    assert report.epsilon_lower_bound < epsilon
    assert data["runs_detail"][0]["epsilon_spent"] == pytest.approx(epsilon, rel=0.01)
    names = {m["name"] for m in data["runs_detail"][0]["mechanisms"]}
    assert {"autoencoder", "discriminator", "marginals:1-way"} <= names  # + the 1-way release's helpers
    assert all(n in {"autoencoder", "discriminator"} or n.startswith("marginals:") for n in names)
    assert data["best_rule"]["guesses"] > 0


def test_repeated_runs_pool_the_guesses_and_report_the_threshold_bound() -> None:
    report = dp_audit(
        code_table(150),
        epsilon=None,
        canaries=40,
        runs=2,
        random_state=1,
        ae_epochs=100,
        epochs=1,
        engine="dpsgd",  # the memorising autoencoder schedule gives the bound its power
        device="cpu",
    )
    data = report.to_dict()
    assert data["runs"] == 2 and len(data["runs_detail"]) == 2
    assert data["runs_detail"][0]["seed"] != data["runs_detail"][1]["seed"]
    assert data["best_rule"]["guesses"] <= 2 * 40
    assert data["threshold_bound"]["assumes_independent_trials"] is True
    assert data["threshold_bound"]["members"] + data["threshold_bound"]["non_members"] == 80
    assert report.epsilon_lower_bound > 0.5


def test_same_seed_same_audit() -> None:
    kwargs = {
        "epsilon": None,
        "canaries": 20,
        "random_state": 3,
        "ae_epochs": 5,
        "epochs": 1,
        "query_steps": 30,
        "device": "cpu",
    }
    a = dp_audit(code_table(120), **kwargs).to_dict()
    b = dp_audit(code_table(120), **kwargs).to_dict()
    assert a["rules"] == b["rules"]
    assert [r["seed"] for r in a["runs_detail"]] == [r["seed"] for r in b["runs_detail"]]
