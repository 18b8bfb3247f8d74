"""dp_audit with its default settings on 5,000 real patients (slow: about 1-2 minutes per audit on 2 cores).

Data: Diabetes 130-US hospitals (Strack et al. 2014; UCI ML Repository id 296; CC BY 4.0), read in place from
../shared/data; the test skips when it is absent. Outputs are recorded in benchmarks/results_dp_audit.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ehrsynth.dp_verify.runner import dp_audit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def patients(diabetes_csv: Path) -> pd.DataFrame:
    from ehrsynth.datasets import diabetes130_patient_table

    df = diabetes130_patient_table(diabetes_csv)
    dx = [c for c in df.columns if c.startswith("dx_")]
    top = list(df[dx].sum().sort_values(ascending=False, kind="stable").index[:100])
    idx = np.sort(np.random.default_rng(0).choice(len(df), size=5000, replace=False))
    return df.iloc[idx][["patient_nbr", "race", "gender", "age", "readmitted", *top]].reset_index(drop=True)


def show(name: str, data: dict[str, Any]) -> None:
    rule = data["best_rule"]
    print(
        f"\n{name}: eps_LB={data['epsilon_lower_bound']:.3f} claimed={data['epsilon_claimed']} "
        f"refuted={data['refuted']} rule={rule['attack']} {rule['correct']}/{rule['guesses']} "
        f"auc={data['attack_auc']:.3f} spent={data['runs_detail'][0]['epsilon_spent']} "
        f"fit_s={data['runs_detail'][0]['fit_seconds']}"
    )


@pytest.mark.parametrize("epsilon", [1.0, 4.0])
def test_default_audit_consistent_with_correct_dp(patients: pd.DataFrame, epsilon: float) -> None:
    data = dp_audit(patients, epsilon=epsilon, random_state=0, device="cpu").to_dict()
    show(f"eps={epsilon}", data)
    assert not data["refuted"] and data["epsilon_lower_bound"] < epsilon


def test_default_audit_without_dp_has_power(patients: pd.DataFrame) -> None:
    """On the dpsgd engine, whose memorising autoencoder the canaries are built for. On the default measure
    engine the no-DP bound on these real codes is about 0.15 (README, audit-dp limits): its pair canaries need
    rare pairs, which real codes seldom give."""
    data = dp_audit(patients, epsilon=None, random_state=0, device="cpu", engine="dpsgd").to_dict()
    show("no DP", data)
    assert data["epsilon_lower_bound"] > 0.5


def test_default_audit_catches_noise_free_dp_sgd(
    patients: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ehrsynth.training.adversarial as adversarial
    import ehrsynth.training.autoencoder as autoencoder
    from ehrsynth.dp import opacus_wiring

    real = opacus_wiring.make_private

    def no_noise(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "noise_multiplier": 0.0})

    monkeypatch.setattr(autoencoder, "make_private", no_noise)
    monkeypatch.setattr(adversarial, "make_private", no_noise)
    data = dp_audit(patients, epsilon=1.0, random_state=0, device="cpu", engine="dpsgd").to_dict()
    show("planted bug, eps=1 claimed", data)
    assert data["runs_detail"][0]["epsilon_spent"] == pytest.approx(1.0, rel=0.01)
    assert data["refuted"] and data["epsilon_lower_bound"] > 1.0
