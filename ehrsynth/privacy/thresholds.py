"""Verdict thresholds: the ONE place where audit numbers become low / medium / high.

Every attack is summarised by one or more *risk indicators*, each an excess over its control on a 0–1 scale:

- membership: ``2 * AUC - 1`` (Somers' D: how much more often a training record is ranked above a holdout
  record than the reverse), and ``(TPR - a) / (1 - a)`` at false-positive rate ``a = 1%`` (the training
  records an attacker flags with few false alarms; outliers carry the risk, averages hide it);
- attribute inference, singling out, exact and near copies: ``(attack - control) / (1 - control)``, where
  *attack* is the success rate on training records and *control* the rate of the same attack on holdout
  records.

Guidance: EMA Policy 0070 (clinical data publication) and common HIPAA expert-determination practice accept a
re-identification risk of at most **0.09**. An indicator is

- **high** when its estimate is at least ``HIGH_RISK`` (= 0.09) and it is significantly above zero;
- **medium** when its estimate is at least ``MEDIUM_RISK`` (= 0.03, a third of the guidance) and it is
  significantly above zero;
- **low** otherwise (no significant excess, or an excess too small to matter).

"Significantly above zero" means that a one-sided lower confidence bound of the *difference* between training
and holdout records (rates: Newcombe's interval for a difference of proportions; AUC - 0.5 and TPR - FPR:
normal approximation with the bootstrap standard error) is above zero at the family-wise level
``FAMILY_ALPHA`` (Bonferroni over all indicators of the audit), so that an independent sample from the same
population is called low with probability at least about 95 %. An attack's verdict is the highest of its
indicators; the overall verdict the highest of the attacks. Reported intervals (``*_ci``) are two-sided at
``REPORT_CONFIDENCE``.

**Labels follow the numbers.** Each indicator also has a display ``label``: its level, except that a low
indicator is labelled **inconclusive** when its estimate is at least ``MEDIUM_RISK`` but not significant (a
large excess seen on too few records), or when its interval is too wide to tell no excess from the guidance
(it reaches both 0 and ``GUIDANCE_RISK``). Only then does the report say that the data are too few, naming the
indicators. Every indicator lives on ``INDICATOR_RANGE`` = [-1, 1]: estimates and intervals are clipped to it
(an excess ``(a - c) / (1 - c)`` below -1 means the attack does much *worse* on training records; it is shown
as -1) and an interval always contains its estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scipy import stats

from ehrsynth.errors import InvalidParameterError
from ehrsynth.privacy.stats import newcombe_difference

LEVELS: tuple[str, ...] = ("low", "medium", "high")
FAIL_ON_CHOICES: tuple[str, ...] = ("low", "medium", "high", "never")

#: Maximum acceptable re-identification risk (EMA Policy 0070; HIPAA expert-determination practice).
GUIDANCE_RISK = 0.09
HIGH_RISK = GUIDANCE_RISK
MEDIUM_RISK = GUIDANCE_RISK / 3
#: Family-wise error rate of the verdict's significance tests (Bonferroni over the indicators).
FAMILY_ALPHA = 0.05
#: Confidence level of the intervals shown in the report.
REPORT_CONFIDENCE = 0.95
#: False-positive rate of the membership TPR indicator, and the number of non-members it needs.
TPR_INDICATOR_FPR = 0.01
MIN_NONMEMBERS_FOR_TPR_INDICATOR = 500
#: The range of every risk indicator (estimates and interval ends are clipped to it).
INDICATOR_RANGE = (-1.0, 1.0)
#: Display labels: the levels plus "inconclusive" (a low level that the data cannot confirm).
LABELS: tuple[str, ...] = (*LEVELS, "inconclusive")


def clip_interval(value: float, ci: tuple[float, float]) -> tuple[float, tuple[float, float]]:
    """``value`` and ``ci`` clipped to :data:`INDICATOR_RANGE`, with the interval widened to contain the value."""
    lo_r, hi_r = INDICATOR_RANGE
    if not math.isfinite(value):
        return value, ci
    v = min(hi_r, max(lo_r, float(value)))
    lo = v if not math.isfinite(ci[0]) else min(hi_r, max(lo_r, float(ci[0])))
    hi = v if not math.isfinite(ci[1]) else min(hi_r, max(lo_r, float(ci[1])))
    return v, (min(lo, v), max(hi, v))


@dataclass
class RiskIndicator:
    """One number that feeds the verdict: an excess risk on a 0–1 scale with its uncertainty.

    ``test`` says how "significantly above zero" is decided, on the scale where the null hypothesis "training
    records fare no better than holdout records" is zero: ``{"kind": "proportions", "k_attack", "n_attack",
    "k_control", "n_control"}`` (Newcombe's interval for the difference of the two rates) or ``{"kind":
    "normal", "value", "se"}`` (e.g. AUC - 0.5 with its bootstrap standard error).
    """

    attack: str
    name: str
    value: float
    ci: tuple[float, float]
    test: dict[str, Any]
    test_lower: float = float("nan")
    level: str = "low"
    inconclusive: bool = False
    label: str = "low"

    def __post_init__(self) -> None:
        self.value, self.ci = clip_interval(self.value, (float(self.ci[0]), float(self.ci[1])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "name": self.name,
            "value": self.value,
            "ci": list(self.ci),
            "test": dict(self.test),
            "test_lower": self.test_lower,
            "level": self.level,
            "inconclusive": self.inconclusive,
            "label": self.label,
        }


def proportions_test(k_attack: int, n_attack: int, k_control: int, n_control: int) -> dict[str, Any]:
    return {
        "kind": "proportions",
        "k_attack": int(k_attack),
        "n_attack": int(n_attack),
        "k_control": int(k_control),
        "n_control": int(n_control),
    }


def normal_test(value: float, se: float) -> dict[str, Any]:
    return {"kind": "normal", "value": float(value), "se": float(se)}


def _lower_bound(test: dict[str, Any], alpha: float) -> float:
    """One-sided lower confidence bound at level ``1 - alpha`` of the tested excess."""
    if test["kind"] == "proportions":
        lo, _ = newcombe_difference(
            test["k_attack"], test["n_attack"], test["k_control"], test["n_control"], confidence=1 - 2 * alpha
        )
        return lo
    se = float(test["se"])
    value = float(test["value"])
    if not (math.isfinite(value) and math.isfinite(se)):
        return float("nan")
    return value - float(stats.norm.ppf(1 - alpha)) * se


def classify(value: float, significant: bool) -> str:
    """Level of one indicator from its estimate and whether its excess is significant (family-wise)."""
    if not significant or not math.isfinite(value):
        return "low"
    if value >= HIGH_RISK:
        return "high"
    if value >= MEDIUM_RISK:
        return "medium"
    return "low"


def label(level: str, value: float, ci: tuple[float, float]) -> str:
    """Display label of an indicator: its level, or "inconclusive" for a low level that the data cannot
    confirm (a large but not significant estimate, or an interval spanning both 0 and the guidance)."""
    if level != "low" or not math.isfinite(value):
        return level
    if value >= MEDIUM_RISK or (ci[0] <= 0.0 and ci[1] >= GUIDANCE_RISK):
        return "inconclusive"
    return "low"


def highest(levels: Iterable[str]) -> str:
    """The most severe of ``levels`` (``"low"`` for none)."""
    return max(levels, key=LEVELS.index, default="low")


def assess(indicators: list[RiskIndicator]) -> dict[str, str]:
    """Set ``test_lower``, ``level`` and ``inconclusive`` on every indicator; return the level per attack.

    The Bonferroni correction counts every indicator of the audit, so running more attacks never makes an
    independent sample look riskier by chance.
    """
    alpha = FAMILY_ALPHA / max(1, len(indicators))
    per_attack: dict[str, list[str]] = {}
    for ind in indicators:
        ind.test_lower = _lower_bound(ind.test, alpha)
        ind.level = classify(ind.value, bool(ind.test_lower > 0.0))
        ind.label = label(ind.level, ind.value, ind.ci)
        ind.inconclusive = ind.label == "inconclusive"
        per_attack.setdefault(ind.attack, []).append(ind.level)
    return {attack: highest(levels) for attack, levels in per_attack.items()}


def fails(verdict: str, fail_on: str) -> bool:
    """Whether ``verdict`` is at or above ``fail_on`` (``"never"``: never fails)."""
    if fail_on not in FAIL_ON_CHOICES:
        raise InvalidParameterError(f"fail_on must be one of {', '.join(FAIL_ON_CHOICES)}, found {fail_on!r}")
    if fail_on == "never":
        return False
    return LEVELS.index(verdict) >= LEVELS.index(fail_on)


def describe() -> dict[str, Any]:
    """The thresholds as recorded in every report."""
    return {
        "guidance_risk": GUIDANCE_RISK,
        "high_risk": HIGH_RISK,
        "medium_risk": MEDIUM_RISK,
        "family_alpha": FAMILY_ALPHA,
        "report_confidence": REPORT_CONFIDENCE,
        "tpr_indicator_fpr": TPR_INDICATOR_FPR,
        "rule": (
            "high: estimate >= high_risk and the excess over the control is significant (family-wise); "
            "medium: estimate >= medium_risk and significant; otherwise low"
        ),
        "guidance": "0.09 maximum re-identification risk (EMA Policy 0070; HIPAA expert determination)",
    }
