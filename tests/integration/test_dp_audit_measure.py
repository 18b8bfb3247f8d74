"""dp_audit of the ``measure`` engine: pair canaries and pair scores (ehrsynth.dp_verify.pair_canaries/attack).

Without DP the fitted model must betray its canaries' pairs; at ε = 1 the bound must stay below the claim; a
planted accounting bug (the 1-way and pair releases add no noise while the accountant charges ε = 0.5) must be
refuted. One run of this engine's audit is weak (no-DP bound about 1, see benchmarks/results_dp_audit.md): the
planted bug is refuted against a claim of 0.5 in one run, and against ε = 1 with three pooled runs. Each audit fits the measure engine once (600 Adam steps + rounds, ~15-25 CPU seconds on the 2-core
development machine), so the module is marked slow: ``make test-slow`` runs it. Figures:
benchmarks/results_dp_audit.md (measure engine).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support import code_columns

from ehrsynth.dp_verify.runner import dp_audit

pytestmark = pytest.mark.slow

ROWS, CODES, CANARIES = 300, 60, 100
BUG_CLAIM = 0.5
MEASURE: dict[str, Any] = {"engine": "measure", "device": "cpu"}
#: the planted bug: the 1-way and pair releases add 1/NOISE_DIVISOR of their noise (0: none)
NOISE_DIVISOR = 0.0


def rare_codes(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """``CODES`` codes of 0.5-10 % prevalence (most EHR codes are rare), sex, age band and an id."""
    rng = np.random.default_rng(seed)
    df = code_columns(rng, n, CODES, 0.005, 0.1)
    df.insert(0, "patient_id", np.arange(1000, 1000 + n))
    df.insert(1, "sex", rng.choice(["F", "M"], n))
    df.insert(2, "age_band", rng.choice(["[0-20)", "[20-40)", "[40-60)", "[60-80)", "[80+)"], n))
    return df


def plant_noise_bug(monkeypatch: pytest.MonkeyPatch, divisor: float) -> None:
    """The 1-way release (schema discovery) and the pair release add their noise divided by ``divisor`` (0:
    a millionth / none) while every mechanism is recorded with the calibrated noise multiplier."""
    import ehrsynth.dp.discovery as discovery
    import ehrsynth.training.measure_engine as engine
    from ehrsynth.dp.sparse_marginals import pair_mechanisms

    real_pairs, real_discover = engine.release_pairs, discovery.discover_schema
    scale = divisor if divisor else 1e6

    def weak_pairs(*args: Any, noise_multiplier: float | None, **kwargs: Any) -> Any:
        if noise_multiplier is None:
            return real_pairs(*args, noise_multiplier=None, **kwargs)
        out = real_pairs(*args, noise_multiplier=noise_multiplier / divisor if divisor else None, **kwargs)
        clip = kwargs.get("clip")  # the clipped pair release is charged at its own sensitivities
        sens = None if clip is None else clip.sensitivities()
        charged = pair_mechanisms(
            args[1], kwargs["ones"], noise_multiplier, kwargs.get("name", "measure:pairs"), sens
        )
        return dataclasses.replace(out, mechanisms=charged)

    def weak_discover(*args: Any, noise_multiplier: float, **kwargs: Any) -> Any:
        released, mechanisms = real_discover(*args, noise_multiplier=noise_multiplier / scale, **kwargs)
        return released, [
            dataclasses.replace(m, noise_multiplier=m.noise_multiplier * scale) for m in mechanisms
        ]

    monkeypatch.setattr(engine, "release_pairs", weak_pairs)
    monkeypatch.setattr(discovery, "discover_schema", weak_discover)


def test_measure_engine_without_dp_betrays_its_canaries() -> None:
    report = dp_audit(rare_codes(), epsilon=None, canaries=CANARIES, random_state=0, **MEASURE)
    data = report.to_dict()
    assert set(data["attacks"]) == {"pair_lift", "signature_joint", "pair_synthetic", "pair_combined"}
    assert report.epsilon_lower_bound > 0.5
    assert data["attack_auc"] > 0.75
    assert data["runs_detail"][0]["epsilon_spent"] is None


@pytest.mark.parametrize("epsilon", [BUG_CLAIM, 1.0])
def test_measure_engine_with_dp_stays_below_the_claim(epsilon: float) -> None:
    report = dp_audit(rare_codes(), epsilon=epsilon, canaries=CANARIES, random_state=0, **MEASURE)
    data = report.to_dict()
    assert not report.refuted and report.epsilon_lower_bound < epsilon
    names = {m["name"] for m in data["runs_detail"][0]["mechanisms"]}
    assert {"measure:pairs:free", "measure:pairs:mixed", "measure:pairs_clip:free"} <= names


@pytest.mark.parametrize(("claim", "runs"), [(BUG_CLAIM, 1), (1.0, 3)])
def test_planted_noise_bug_in_the_measure_engine_is_refuted(
    monkeypatch: pytest.MonkeyPatch, claim: float, runs: int
) -> None:
    plant_noise_bug(monkeypatch, NOISE_DIVISOR)
    report = dp_audit(rare_codes(), epsilon=claim, canaries=CANARIES, runs=runs, random_state=0, **MEASURE)
    data = report.to_dict()
    assert all(r["epsilon_spent"] <= claim for r in data["runs_detail"])  # the accountant reports the claim
    assert report.refuted and report.epsilon_lower_bound > claim
