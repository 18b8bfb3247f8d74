"""Report consistency (issue 13 item 12): intervals stay in range, labels follow the numbers, the holdout is not
the training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehrsynth.errors import InvalidDataError
from ehrsynth.privacy import audit
from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.html_report import _attribute_section, summary_sentences
from ehrsynth.privacy.overlap import check_overlap, measure
from ehrsynth.privacy.stats import excess_risk


@st.composite
def _counts(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n_a, n_c = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    return draw(st.integers(0, n_a)), n_a, draw(st.integers(0, n_c)), n_c


@given(_counts())
def test_excess_risk_interval_stays_in_range_and_holds_its_estimate(c: tuple[int, int, int, int]) -> None:
    est = excess_risk(*c)
    assert -1.0 <= est.ci[0] <= est.value <= est.ci[1] <= 1.0


def test_excess_risk_interval_is_not_a_point_on_few_records() -> None:
    est = excess_risk(3, 3, 0, 3)
    assert est.value == 1.0 and est.ci[0] < 0.5  # the bootstrap gave [1.000, 1.000]
    near_one = excess_risk(20, 40, 39, 40)  # control near 1: the bootstrap gave [-1.75, 0.5]
    assert est.ci[1] <= 1.0 and near_one.ci[0] >= -1.0


def test_indicator_values_are_clipped() -> None:
    ind = th.RiskIndicator("singling_out", "x", -1.75, (-3.0, 0.5), th.proportions_test(1, 2, 1, 2))
    assert ind.value == -1.0 and ind.ci == (-1.0, 0.5)


def _assessed(value: float, ci: tuple[float, float], test: dict) -> th.RiskIndicator:
    ind = th.RiskIndicator("attribute_inference", "a: knn", value, ci, test)
    th.assess([ind])
    return ind


def test_large_unconfirmed_risk_is_never_labelled_low() -> None:
    ind = _assessed(1.0, (1.0, 1.0), th.proportions_test(1, 1, 0, 1))
    assert ind.level == "low"  # not significant on 1 record each: the verdict rule is unchanged
    assert ind.label == "inconclusive" and ind.inconclusive
    sure = _assessed(1.0, (0.9, 1.0), th.proportions_test(500, 500, 0, 500))
    assert sure.label == "high"


def test_narrow_interval_near_zero_is_plainly_low() -> None:
    ind = _assessed(0.004, (-0.01, 0.02), th.proportions_test(402, 1000, 398, 1000))
    assert ind.label == "low" and not ind.inconclusive


def test_bar_colour_follows_the_label() -> None:
    ind = _assessed(0.27, (-0.05, 0.6), th.proportions_test(5, 6, 3, 6))
    data = {
        "attacks": {
            "attribute_inference": {
                "verdict": "low",
                "quasi_identifiers": ["age"],
                "k": 1,
                "attributes": {
                    "a": {"knn": {"attack_rate": 0.8, "control_rate": 0.5, "risk": 0.27, "risk_ci": [0, 1]}}
                },
            }
        },
        "indicators": [ind.to_dict()],
    }
    bars = [{"label": "a (knn)", "indicator": "a: knn", "value": 0.27, "ci": (-0.05, 0.6)}]
    html = _attribute_section(data, {"attribute_bars": bars})
    assert 'fill="#757575"' in html and 'fill="#2e7d32"' not in html


def test_summary_names_inconclusive_indicators() -> None:
    ind = _assessed(0.5, (-0.2, 0.9), th.proportions_test(3, 4, 1, 4))
    data = {
        "verdict": "low",
        "indicators": [ind.to_dict()],
        "attacks": {
            "membership": {
                "headline_attack": "dcr",
                "auc": 0.5,
                "auc_ci": [0.4, 0.6],
                "tpr_at_fpr_0.01": 0.01,
            },
            "singling_out": {"exact_copies": {"attack_rate": 0.0, "control_rate": 0.0}},
            "attribute_inference": {},
        },
    }
    assert any(line.startswith("Inconclusive: 1 indicator") for line in summary_sentences(data))


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 95, n), "lab": rng.normal(5, 1, n).round(3)})


def test_holdout_equal_to_train_is_refused() -> None:
    train = _table(200, 0)
    with pytest.raises(InvalidDataError, match="same table"):
        audit(train, train.copy(), _table(200, 1), n_bootstrap=100)


def test_holdout_sharing_most_rows_with_train_is_refused() -> None:
    train = _table(200, 0)
    holdout = pd.concat([train.iloc[:150], _table(50, 2)], ignore_index=True)
    with pytest.raises(InvalidDataError, match="overlaps the training data"):
        audit(train, holdout, _table(200, 1), n_bootstrap=100)
    holdout = pd.concat([train.iloc[:30], _table(170, 2)], ignore_index=True)
    notes = check_overlap(train, holdout, "a", "b")
    assert notes and "15.0% of the 200 holdout rows" in notes[0]


def test_chance_repeats_of_low_entropy_rows_are_not_overlap() -> None:
    rng = np.random.default_rng(0)
    codes = lambda n: pd.DataFrame(rng.random((n, 3)) < 0.1, columns=list("abc")).astype(int)  # noqa: E731
    train, holdout = codes(400), codes(400)
    o = measure(train, holdout)
    assert o.share > 0.5 and o.chance >= o.share - 0.1
    assert check_overlap(train, holdout, "a", "b") == []
