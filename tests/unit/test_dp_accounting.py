"""Accounting: mechanisms, composed ε under PRV / RDP, cross-checks with Opacus and dp_accounting, privacy.json."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import pld
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.accounting import (
    ACCOUNTANTS,
    Gaussian,
    Laplace,
    PoissonGaussian,
    compute_epsilon,
    default_delta,
    mechanism_from_dict,
    mechanism_to_dict,
)
from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.errors import InvalidParameterError, PrivacyBudgetError

ISSUE_EXAMPLE: dict[str, Any] = {
    "epsilon": 3.0,
    "delta": 1e-06,
    "epsilon_spent": 2.99,
    "accountant": "prv",
    "mechanisms": [
        {
            "name": "autoencoder",
            "type": "poisson_gaussian",
            "noise_multiplier": 1.1,
            "sample_rate": 0.01,
            "steps": 2000,
        },
        {
            "name": "discriminator",
            "type": "poisson_gaussian",
            "noise_multiplier": 1.3,
            "sample_rate": 0.02,
            "steps": 3000,
        },
        {"name": "domain:categories", "type": "laplace", "noise_multiplier": 20.0, "count": 1},
    ],
}


# -- cross-checks ---------------------------------------------------------------------------------------------
def test_design_cross_check_q01_sigma1_50_steps() -> None:
    # docs/design.md §4 rule 6: q=0.1, σ=1, 50 steps → PLD 5.148, Opacus PRV 5.16, RDP 5.885 — at δ = 1e-5
    m = [PoissonGaussian("d", 1.0, 0.1, 50)]
    assert compute_epsilon(m, 1e-5, "prv") == pytest.approx(5.16, abs=0.005)
    assert compute_epsilon(m, 1e-5, "rdp") == pytest.approx(5.885, abs=0.01)
    record = {"delta": 1e-5, "mechanisms": [mechanism_to_dict(x) for x in m]}
    assert pld.pld_epsilon(record) == pytest.approx(5.148, abs=0.002)


@pytest.mark.parametrize(
    "history", [[(1.0, 0.05, 400), (1.3, 0.05, 1000)], [(3.0, 0.01, 3000)], [(0.8, 0.2, 300)]]
)
def test_prv_equals_opacus_prv_accountant(history: list[tuple[float, float, int]]) -> None:
    from opacus.accountants import PRVAccountant

    acc = PRVAccountant()
    acc.history = list(history)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = acc.get_epsilon(1e-6)  # Opacus' default eps_error = 0.01
    mechs = [PoissonGaussian(f"p{i}", s, q, n) for i, (s, q, n) in enumerate(history)]
    assert compute_epsilon(mechs, 1e-6, "prv", eps_error=0.01) == pytest.approx(expected, rel=1e-6)


def test_rdp_equals_opacus_rdp_accountant() -> None:
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    acc.history = [(1.0, 0.05, 400), (1.3, 0.02, 1000)]
    mechs = [PoissonGaussian("a", 1.0, 0.05, 400), PoissonGaussian("b", 1.3, 0.02, 1000)]
    assert compute_epsilon(mechs, 1e-6, "rdp") == pytest.approx(acc.get_epsilon(1e-6), rel=1e-9)


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_gaussian_count_equals_poisson_gaussian_rate_one(accountant: str) -> None:
    a = compute_epsilon([Gaussian("g", 2.0, count=3)], 1e-6, accountant)
    b = compute_epsilon([PoissonGaussian("g", 2.0, 1.0, 3)], 1e-6, accountant)
    assert a == b
    assert a > compute_epsilon([Gaussian("g", 2.0, count=2)], 1e-6, accountant)


@pytest.mark.parametrize(
    "mechs",
    [
        [Laplace("l", 2.0)],
        [Laplace("l", 20.0, count=3)],
        [Laplace("l", 5.0, count=10), Gaussian("g", 30.0)],
        [Laplace("l", 20.0), PoissonGaussian("d", 1.5, 0.05, 500)],
    ],
)
def test_laplace_and_mixtures_agree_with_dp_accounting_pld(mechs: list[Any]) -> None:
    record = {"delta": 1e-6, "mechanisms": [mechanism_to_dict(m) for m in mechs]}
    ours = compute_epsilon(mechs, 1e-6, "prv")
    reference = pld.pld_epsilon(record)
    assert ours >= reference * 0.995  # an upper bound, not an underestimate
    assert ours == pytest.approx(reference, rel=0.02)


def test_prv_never_falls_back_to_rdp_on_ordinary_schedules(caplog: pytest.LogCaptureFixture) -> None:
    cases: list[list[Any]] = [
        [Gaussian("g", 2.0, count=3)],
        [PoissonGaussian("g", 2.0, 1.0, 3)],
        [Laplace("l", 0.5)],
        [Gaussian("g", 50.0), Laplace("l", 3.0, count=4), PoissonGaussian("d", 0.9, 0.3, 200)],
    ]
    with caplog.at_level("WARNING", logger="ehrsynth.dp.accounting"):
        for mechs in cases:
            assert compute_epsilon(mechs, 1e-6, "prv") < compute_epsilon(mechs, 1e-6, "rdp")
    assert not caplog.records
    # the plain Gaussian's loss is exact: Opacus' PRVAccountant at q = 1 gives 4.162
    assert compute_epsilon([Gaussian("g", 2.0, count=3)], 1e-6, eps_error=0.01) == pytest.approx(
        4.162, abs=1e-3
    )


def test_laplace_rdp_agrees_with_dp_accounting_rdp() -> None:
    import dp_accounting
    from dp_accounting.rdp import RdpAccountant

    ref = RdpAccountant(orders=[1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))
    ref.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.LaplaceDpEvent(4.0), 5))
    assert compute_epsilon([Laplace("l", 4.0, count=5)], 1e-6, "rdp") == pytest.approx(
        ref.get_epsilon(1e-6), rel=0.01
    )


def test_threshold_delta_is_charged_against_delta() -> None:
    with_reserve = compute_epsilon([Gaussian("t", 3.0, delta=4e-7)], 1e-6)
    assert with_reserve == compute_epsilon([Gaussian("t", 3.0)], 6e-7)
    assert with_reserve > compute_epsilon([Gaussian("t", 3.0)], 1e-6)
    with pytest.raises(PrivacyBudgetError, match="reserve"):
        compute_epsilon([Gaussian("t", 3.0, delta=1e-6)], 1e-6)


def test_nothing_spent_by_empty_or_zero_step_mechanisms() -> None:
    assert compute_epsilon([], 1e-6) == 0.0
    assert compute_epsilon([PoissonGaussian("a", 1.0, 0.1, 0), Gaussian("g", 1.0, count=0)], 1e-6) == 0.0


@pytest.mark.parametrize("delta", [0, -1e-6, 1.0, float("nan"), "1e-6", True])
def test_bad_delta_is_refused(delta: Any) -> None:
    with pytest.raises(PrivacyBudgetError, match="delta"):
        compute_epsilon([Gaussian("g", 1.0)], delta)


def test_unknown_accountant_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="accountant"):
        compute_epsilon([Gaussian("g", 1.0)], 1e-6, "gdp")


# -- monotonicity (hypothesis) --------------------------------------------------------------------------------
_sigma = st.floats(0.8, 10.0)
_rate = st.floats(0.001, 0.2)


@settings(max_examples=8, deadline=None)
@given(
    sigma=_sigma,
    q=_rate,
    steps=st.integers(1, 2000),
    more=st.integers(1, 500),
    accountant=st.sampled_from(ACCOUNTANTS),
)
def test_epsilon_never_decreases_as_steps_grow(
    sigma: float, q: float, steps: int, more: int, accountant: str
) -> None:
    a = compute_epsilon([PoissonGaussian("d", sigma, q, steps)], 1e-6, accountant)
    b = compute_epsilon([PoissonGaussian("d", sigma, q, steps + more)], 1e-6, accountant)
    assert b >= a


@settings(max_examples=6, deadline=None)
@given(sigma=_sigma, q=_rate, factor=st.floats(1.01, 3.0), steps=st.integers(1, 1000))
def test_epsilon_grows_with_sample_rate_and_shrinks_with_noise(
    sigma: float, q: float, factor: float, steps: int
) -> None:
    base = compute_epsilon([PoissonGaussian("d", sigma, q, steps)], 1e-6)
    assert compute_epsilon([PoissonGaussian("d", sigma, min(1.0, q * factor), steps)], 1e-6) >= base
    assert compute_epsilon([PoissonGaussian("d", sigma * factor, q, steps)], 1e-6) <= base


# -- δ default ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 200, 10_000, 49_971, 10**7])
def test_default_delta_is_well_below_one_over_n(n: int) -> None:
    d = default_delta(n)
    assert 0 < d <= 1e-5
    assert d <= 1 / (10 * n)


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_default_delta_refuses_bad_sizes(n: Any) -> None:
    with pytest.raises(InvalidParameterError):
        default_delta(n)


# -- mechanisms and privacy.json ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (
            {
                "name": "a",
                "type": "poisson_gaussian",
                "noise_multiplier": 1.0,
                "sample_rate": 0.1,
                "steps": -1,
            },
            "steps",
        ),
        (
            {
                "name": "a",
                "type": "poisson_gaussian",
                "noise_multiplier": 1.0,
                "sample_rate": 0.1,
                "steps": 2.5,
            },
            "steps",
        ),
        (
            {
                "name": "a",
                "type": "poisson_gaussian",
                "noise_multiplier": 1.0,
                "sample_rate": 0.0,
                "steps": 1,
            },
            "sample_rate",
        ),
        (
            {
                "name": "a",
                "type": "poisson_gaussian",
                "noise_multiplier": 1.0,
                "sample_rate": 1.5,
                "steps": 1,
            },
            "sample_rate",
        ),
        (
            {
                "name": "a",
                "type": "poisson_gaussian",
                "noise_multiplier": 0.0,
                "sample_rate": 0.1,
                "steps": 1,
            },
            "noise",
        ),
        ({"name": "a", "type": "gaussian", "noise_multiplier": -2.0}, "noise"),
        ({"name": "a", "type": "gaussian", "noise_multiplier": float("nan")}, "noise"),
        ({"name": "a", "type": "laplace", "noise_multiplier": 1.0, "count": -1}, "count"),
        ({"name": "a", "type": "laplace", "noise_multiplier": 1.0, "count": True}, "count"),
        ({"name": "a", "type": "gaussian", "noise_multiplier": 1.0, "delta": 1.0}, "delta"),
        ({"name": "a", "type": "exponential", "noise_multiplier": 1.0}, "unknown type"),
        ({"name": "a", "type": "poisson_gaussian", "noise_multiplier": 1.0, "steps": 3}, "missing"),
        ({"name": "a", "type": "laplace", "noise_multiplier": 1.0, "sample_rate": 0.1}, "unknown keys"),
        ({"name": "", "type": "laplace", "noise_multiplier": 1.0}, "name"),
        ("laplace", "JSON object"),
    ],
)
def test_bad_mechanism_entries_give_clear_errors(entry: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        mechanism_from_dict(entry)


def test_mechanism_dict_round_trip_keeps_the_issue_shape() -> None:
    for entry in ISSUE_EXAMPLE["mechanisms"]:
        assert mechanism_to_dict(mechanism_from_dict(entry)) == entry
    g = Gaussian("domain:codes", 12.5, count=1, delta=1e-10)
    assert mechanism_to_dict(g) == {**mechanism_to_dict(Gaussian("domain:codes", 12.5)), "delta": 1e-10}
    assert mechanism_from_dict(json.loads(json.dumps(mechanism_to_dict(g)))) == g


def test_privacy_record_json_round_trip() -> None:
    record = PrivacyRecord.from_dict(ISSUE_EXAMPLE)
    text = json.dumps(record.to_dict())
    assert json.loads(text) == ISSUE_EXAMPLE
    assert list(record.to_dict()) == ["epsilon", "delta", "epsilon_spent", "accountant", "mechanisms"]
    assert PrivacyRecord.from_dict(json.loads(text)) == record
    free = PrivacyRecord.non_private()
    assert free.to_dict() == {
        "epsilon": None,
        "delta": None,
        "epsilon_spent": None,
        "accountant": None,
        "mechanisms": [],
    }
    assert PrivacyRecord.from_dict(json.loads(json.dumps(free.to_dict()))) == free
    assert free.recompute() == math.inf and not free.private


def test_recompute_and_breakdown() -> None:
    mechs: list[Any] = [
        Gaussian("domain:categories", 40.0, delta=1e-10),
        PoissonGaussian("autoencoder", 1.5, 0.05, 200),
        PoissonGaussian("discriminator", 1.5, 0.05, 600),
    ]
    spent = compute_epsilon(mechs, 1e-6)
    record = PrivacyRecord(epsilon=3.0, delta=1e-6, epsilon_spent=spent, accountant="prv", mechanisms=mechs)
    assert record.recompute() == spent
    rows = record.breakdown()
    assert [r["name"] for r in rows] == ["domain:categories", "autoencoder", "discriminator"]
    alone = [r["epsilon_alone"] for r in rows]
    assert all(0 < a < spent for a in alone)
    assert alone[2] > alone[1]  # more steps, same noise
    assert rows[1]["sample_rate"] == 0.05 and rows[2]["steps"] == 600


@pytest.mark.parametrize(
    "change",
    [
        {"epsilon": -1.0},
        {"epsilon": float("inf")},
        {"delta": 2.0},
        {"delta": None},
        {"accountant": "moments"},
        {"epsilon_spent": -0.1},
        {"mechanisms": "none"},
        {"extra": 1},
    ],
)
def test_bad_privacy_records_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises((PrivacyBudgetError, InvalidParameterError)):
        PrivacyRecord.from_dict({**ISSUE_EXAMPLE, **change})


def test_non_private_record_must_be_empty() -> None:
    with pytest.raises(PrivacyBudgetError, match="non-private"):
        PrivacyRecord(epsilon=None, delta=1e-6, epsilon_spent=None, accountant=None, mechanisms=[])
    with pytest.raises(PrivacyBudgetError, match="keys"):
        PrivacyRecord.from_dict({"epsilon": None})
