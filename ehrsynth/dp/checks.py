"""The one definition of a valid privacy budget (ε, δ) of a fit or an audit.

Used by the estimators' parameter constraints (:data:`ehrsynth.params.EPSILON`/``DELTA``), by
:meth:`ehrsynth.dp.budget.DPConfig.resolve`, by noise calibration and accounting, and by the DP audit. ε is a
positive finite real; δ a real in (0, 1), and below 1/n once the number n of records protected is known.
``True``/``False`` are never numbers here. Stdlib only, so every layer may use it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ehrsynth.errors import PrivacyBudgetError


def _real(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def is_epsilon(value: Any) -> bool:
    """Whether ``value`` is a valid ε: a positive finite real."""
    v = _real(value)
    return v is not None and 0 < v < math.inf


def is_delta(value: Any, n: int | None = None) -> bool:
    """Whether ``value`` is a valid δ: a real in (0, 1), and in (0, 1/n) when ``n`` records are protected."""
    v = _real(value)
    return v is not None and 0 < v < (1.0 if n is None else 1.0 / n)


def check_epsilon(value: Any, hint: str = "") -> float:
    """``value`` as a float, or :class:`PrivacyBudgetError` (with ``hint`` appended) when it is not an ε."""
    if not is_epsilon(value):
        raise PrivacyBudgetError(f"epsilon must be a positive finite number, found {value!r}" + hint)
    return float(value)


def check_delta(value: Any) -> float:
    """``value`` as a float, or :class:`PrivacyBudgetError` when it is not in (0, 1)."""
    if not is_delta(value):
        raise PrivacyBudgetError(f"delta must be a number in (0, 1) (and below 1/n), found {value!r}")
    return float(value)


def resolve_delta(value: Any, n: int, *, default: float, unit: str = "rows") -> float:
    """δ for ``n`` protected records (counted in ``unit``): ``default`` when ``value`` is None, else ``value``
    checked to be in (0, 1/n)."""
    d = default if value is None else value
    if not is_delta(d, n):
        raise PrivacyBudgetError(
            f"delta must be in (0, 1/n) = (0, {1.0 / n:.3g}) for n = {n} {unit}, found {d!r}; leave it unset for "
            f"the default {default:.3g}"
        )
    return float(d)
