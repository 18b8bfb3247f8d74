"""Calibration: one budget over all phases, checked against Google's dp_accounting PLD from privacy.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pld
import pytest

from ehrsynth.dp.accounting import Gaussian, Laplace, PoissonGaussian, compute_epsilon
from ehrsynth.dp.calibration import MIN_NOISE_MULTIPLIER, Phase, calibrate_noise, max_steps_within
from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.errors import InvalidParameterError, PrivacyBudgetError

DELTA = 1e-6

SCHEDULES: dict[str, tuple[list[Phase], list[Any]]] = {
    # the brief's example: AE q=0.05 × 400 + D q=0.05 × 1000 + a Gaussian domain release
    "ae400_d1000_domain": (
        [Phase("autoencoder", 0.05, 400), Phase("discriminator", 0.05, 1000)],
        [Gaussian("domain:categories", 30.0, delta=1e-10)],
    ),
    # the ehrsynth DP default for 10k rows (q = 0.1, 10 AE epochs, 30 GAN epochs × 2 D steps) + three releases
    "dp_default_10k": (
        [Phase("autoencoder", 0.1, 100), Phase("discriminator", 0.1, 600)],
        [
            Gaussian("domain:categories", 40.0, delta=1e-10),
            Gaussian("domain:bounds", 40.0),
            Gaussian("domain:codes", 40.0, delta=1e-10),
        ],
    ),
    # different rates and noise weights per phase, a Laplace release (as in the example)
    "mixed_rates_laplace": (
        [Phase("autoencoder", 0.01, 1000, weight=1.2), Phase("discriminator", 0.02, 1500)],
        [Laplace("domain:categories", 40.0)],
    ),
}


@pytest.mark.parametrize("epsilon", [1.0, 3.0, 10.0])
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_calibrated_record_agrees_with_dp_accounting_pld(
    schedule: str, epsilon: float, tmp_path: Path
) -> None:
    phases, fixed = SCHEDULES[schedule]
    calibrated = calibrate_noise(phases, epsilon=epsilon, delta=DELTA, fixed=fixed)
    mechanisms = [*fixed, *calibrated]
    spent = compute_epsilon(mechanisms, DELTA)
    assert epsilon * (1 - 0.005) <= spent <= epsilon
    record = PrivacyRecord(
        epsilon=epsilon, delta=DELTA, epsilon_spent=spent, accountant="prv", mechanisms=mechanisms
    )
    path = tmp_path / "privacy.json"
    path.write_text(json.dumps(record.to_dict()), encoding="utf-8")
    reference = pld.pld_epsilon(path)  # from the file alone, with an independent accountant
    assert reference == pytest.approx(spent, rel=0.02)
    assert PrivacyRecord.from_dict(json.loads(path.read_text(encoding="utf-8"))).recompute() == spent


def test_noise_follows_weights_and_phase_order() -> None:
    phases = [Phase("b", 0.05, 300, weight=2.0), Phase("a", 0.05, 300), Phase("idle", 0.05, 0)]
    out = calibrate_noise(phases, epsilon=2.0, delta=DELTA)
    assert [m.name for m in out] == ["b", "a", "idle"]
    assert out[0].noise_multiplier == pytest.approx(2 * out[1].noise_multiplier, rel=1e-5)
    assert [m.steps for m in out] == [300, 300, 0]
    assert all(isinstance(m, PoissonGaussian) for m in out)


def test_rdp_calibration_meets_its_own_accountant() -> None:
    phases = [Phase("autoencoder", 0.05, 400), Phase("discriminator", 0.05, 1000)]
    out = calibrate_noise(phases, epsilon=3.0, delta=DELTA, accountant="rdp", tol=0.002)
    assert 3.0 * 0.998 <= compute_epsilon(out, DELTA, "rdp") <= 3.0
    prv = calibrate_noise(phases, epsilon=3.0, delta=DELTA)
    assert prv[0].noise_multiplier < out[0].noise_multiplier  # PRV is tighter: less noise for the same ε


def test_larger_budget_means_less_noise() -> None:
    phases = [Phase("d", 0.05, 500)]
    noise = [calibrate_noise(phases, epsilon=e, delta=DELTA)[0].noise_multiplier for e in (0.5, 2.0, 8.0)]
    assert noise[0] > noise[1] > noise[2]


def test_infeasible_schedule_names_smallest_feasible_epsilon() -> None:
    phases = [Phase("discriminator", 1.0, 2_000)]
    with pytest.raises(PrivacyBudgetError) as info:
        calibrate_noise(phases, epsilon=0.1, delta=DELTA, max_noise_multiplier=5.0)
    message = str(info.value)
    assert "fewer steps" in message and "sample rate" in message and "discriminator" in message
    smallest = float(re.search(r"spends epsilon = ([0-9.]+)", message).group(1))  # type: ignore[union-attr]
    assert smallest == pytest.approx(
        compute_epsilon([PoissonGaussian("d", 5.0, 1.0, 2_000)], DELTA), rel=1e-3
    )
    assert smallest > 0.1


def test_fixed_mechanisms_alone_over_budget_are_refused() -> None:
    with pytest.raises(PrivacyBudgetError, match="domain:categories"):
        calibrate_noise(
            [Phase("d", 0.05, 100)], epsilon=0.5, delta=DELTA, fixed=[Gaussian("domain:categories", 1.0)]
        )


def test_huge_budget_stops_at_minimum_noise() -> None:
    out = calibrate_noise([Phase("d", 0.01, 10)], epsilon=500.0, delta=DELTA)
    assert out[0].noise_multiplier == pytest.approx(MIN_NOISE_MULTIPLIER)
    assert compute_epsilon(out, DELTA) <= 500.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"epsilon": 0.0}, PrivacyBudgetError),
        ({"epsilon": -1.0}, PrivacyBudgetError),
        ({"epsilon": float("nan")}, PrivacyBudgetError),
        ({"delta": 1.0}, PrivacyBudgetError),
        ({"tol": 0.0}, InvalidParameterError),
        ({"max_noise_multiplier": 0.0}, InvalidParameterError),
        ({"accountant": "moments"}, InvalidParameterError),
    ],
)
def test_bad_calibration_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    args: dict[str, Any] = {"epsilon": 1.0, "delta": DELTA, **kwargs}
    with pytest.raises(error):
        calibrate_noise([Phase("d", 0.05, 10)], **args)


@pytest.mark.parametrize(
    "args", [("d", 0.0, 10), ("d", 1.5, 10), ("d", 0.1, -1), ("d", 0.1, 10, 0.0), ("", 0.1, 10)]
)
def test_bad_phases_are_refused(args: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidParameterError):
        Phase(*args)


def test_duplicate_phase_names_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="unique"):
        calibrate_noise([Phase("d", 0.1, 10), Phase("d", 0.1, 10)], epsilon=1.0, delta=DELTA)


def test_max_steps_within_is_the_last_step_that_fits() -> None:
    fixed = [Gaussian("domain:bounds", 20.0)]
    steps = max_steps_within(2.0, 0.05, epsilon=2.0, delta=DELTA, fixed=fixed)
    assert steps > 0
    assert compute_epsilon([*fixed, PoissonGaussian("p", 2.0, 0.05, steps)], DELTA) <= 2.0
    assert compute_epsilon([*fixed, PoissonGaussian("p", 2.0, 0.05, steps + 1)], DELTA) > 2.0
    assert max_steps_within(0.5, 1.0, epsilon=0.01, delta=DELTA) == 0
