"""Attribute-inference control standardised to the members' distribution of the true value."""

from __future__ import annotations

import numpy as np

from ehrsynth.privacy.attacks.attribute import standardised_successes
from ehrsynth.privacy.stats import excess_risk


def test_constant_guess_is_not_a_leak_when_prevalence_differs_by_chance() -> None:
    # 40 % of members but 20 % of holdout records hold the code; the attacker always guesses 1
    member_truth = np.array([1] * 40 + [0] * 60)
    control_truth = np.array([1] * 20 + [0] * 80)
    control_correct = control_truth == 1
    naive = excess_risk(40, 100, int(control_correct.sum()), 100, rng=np.random.default_rng(0)).value
    k_c = standardised_successes(control_correct, control_truth, member_truth)
    fixed = excess_risk(40, 100, k_c, 100, rng=np.random.default_rng(0)).value
    assert naive > 0.2  # what the plain control reported
    assert k_c == 40 and fixed == 0.0


def test_standardisation_keeps_a_real_leak() -> None:
    # same prevalence in both groups; the attacker is right on 60 % of holdout records whatever the value
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 1000)
    control_correct = rng.random(1000) < 0.6
    k_c = standardised_successes(control_correct, truth, truth)
    assert abs(k_c - int(control_correct.sum())) <= 1


def test_value_absent_from_the_holdout_takes_the_overall_rate() -> None:
    control_truth = np.zeros(10, dtype=int)
    control_correct = np.array([True] * 7 + [False] * 3)
    member_truth = np.array([0] * 5 + [2] * 5)  # value 2 never occurs in the holdout
    assert standardised_successes(control_correct, control_truth, member_truth) == 7
