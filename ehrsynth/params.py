"""The estimators' base: scikit-learn's ``BaseEstimator`` (get_params/set_params/repr/clone) plus declarative
parameter constraints, checked at the start of ``fit`` before any data is read or budget is spent.

Each estimator declares ``_constraints``: parameter name → :class:`Constraint`. :meth:`Estimator._check_params`
validates every parameter against it and raises :class:`~ehrsynth.errors.InvalidParameterError` naming the
parameter, the value found and what is allowed. ``True``/``False`` never pass as numbers, and reals must be
finite.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
from sklearn.base import BaseEstimator

from ehrsynth.dp.accounting import ACCOUNTANTS
from ehrsynth.dp.checks import is_delta, is_epsilon
from ehrsynth.errors import EhrsynthError, InvalidParameterError, PrivacyBudgetError

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.dp.budget import DPConfig

T = TypeVar("T", bound="Estimator")


class Constraint:
    """One parameter's allowed values; ``check`` returns None when ``value`` is allowed, else what is."""

    def check(self, value: Any) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


@dataclass(frozen=True)
class Integer(Constraint):
    low: int
    high: int | None = None
    optional: bool = False  # None allowed

    def check(self, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        if _is_int(value) and value >= self.low and (self.high is None or value <= self.high):
            return None
        bound = f">= {self.low}" if self.high is None else f"in [{self.low}, {self.high}]"
        return f"an integer {bound}" + (" or None" if self.optional else "")


@dataclass(frozen=True)
class Real(Constraint):
    """A finite real in (low, high) with closed ends where ``closed`` says ('left', 'right', 'both', '')."""

    low: float
    high: float = math.inf
    closed: str = ""
    optional: bool = False

    def check(self, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        if _is_real(value):
            v = float(value)
            above = v >= self.low if self.closed in ("left", "both") else v > self.low
            below = v <= self.high if self.closed in ("right", "both") else v < self.high
            if above and below:
                return None
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        interval = f"{left}{self.low:g}, {self.high:g}{right}"
        return f"a finite number in {interval}" + (" or None" if self.optional else "")


@dataclass(frozen=True)
class Options(Constraint):
    values: tuple[Any, ...]

    def check(self, value: Any) -> str | None:
        ok = any(value is v or (type(value) is type(v) and value == v) for v in self.values)
        return None if ok else "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Boolean(Constraint):
    optional: bool = False

    def check(self, value: Any) -> str | None:
        if isinstance(value, bool) or (value is None and self.optional):
            return None
        return "True or False" + (" or None" if self.optional else "")


@dataclass(frozen=True)
class Sizes(Constraint):
    """A non-empty sequence of positive integers (layer widths)."""

    def check(self, value: Any) -> str | None:
        if (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and len(value) > 0
            and all(_is_int(v) and v >= 1 for v in value)
        ):
            return None
        return "a non-empty sequence of positive integers, e.g. (128, 128)"


@dataclass(frozen=True)
class Check(Constraint):
    """Any rule: ``accept(value)`` says whether it holds; ``allowed`` says what is allowed."""

    accept: Callable[[Any], bool]
    allowed: str
    error: type[EhrsynthError] = InvalidParameterError

    def check(self, value: Any) -> str | None:
        return None if self.accept(value) else self.allowed


SEED = Integer(0, optional=True)
EPSILON = Check(
    lambda v: v is None or is_epsilon(v),
    "a positive finite number (the privacy budget), or None to train without DP",
    PrivacyBudgetError,
)
DELTA = Check(
    lambda v: v is None or is_delta(v),
    "in (0, 1/n) for n training records, or None for the default (below 1/n)",
    PrivacyBudgetError,
)
DEVICE = Check(
    lambda v: isinstance(v, str) and (v in ("auto", "cpu") or v.startswith("cuda")),
    "'auto', 'cpu' or 'cuda[:N]'",
)
RUNTIME_PARAMS = ("progress", "verbose", "checkpoint_dir")  # how a fit runs, not what it learns: never saved
CALLBACK = Check(lambda v: v is None or callable(v), "None or a callable")
PATH = Check(lambda v: v is None or (isinstance(v, str) and bool(v)), "None or a directory path")

#: The privacy parameters every estimator has (read by :meth:`Estimator._dp_config`).
PRIVACY_CONSTRAINTS: dict[str, Constraint] = {
    "epsilon": EPSILON,
    "delta": DELTA,
    "accountant": Options(ACCOUNTANTS),
    "max_grad_norm": Real(0),
}
#: How every estimator's fit runs: device, seed, progress and checkpoints.
RUN_CONSTRAINTS: dict[str, Constraint] = {
    "device": DEVICE,
    "random_state": SEED,
    "verbose": Boolean(),
    "progress": CALLBACK,
    "checkpoint_dir": PATH,
    "checkpoint_every": Integer(1),
}


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    return value.item() if isinstance(value, np.generic) else value


def validate(params: Mapping[str, Any], constraints: Mapping[str, Constraint]) -> None:
    """Check every parameter in ``params`` that ``constraints`` names (all of them must be named)."""
    for name, value in params.items():
        if name not in constraints:
            raise InvalidParameterError(f"internal: parameter {name!r} has no declared constraint")
        constraint = constraints[name]
        allowed = constraint.check(value)
        if allowed is not None:
            error = getattr(constraint, "error", InvalidParameterError)
            raise error(f"{name} must be {allowed}, found {value!r}")


class Estimator(BaseEstimator):
    """scikit-learn ``BaseEstimator`` with ``_constraints`` validated by :meth:`_check_params`."""

    _constraints: ClassVar[dict[str, Constraint]] = {}
    # the privacy parameters every estimator has (read by _dp_config)
    epsilon: float | None
    delta: float | None
    accountant: str
    max_grad_norm: float

    @classmethod
    def _param_names(cls) -> list[str]:
        """The ``__init__`` parameter names (scikit-learn's ``_get_param_names``)."""
        return list(cls._get_param_names())

    def _check_params(self) -> None:
        validate(self.get_params(deep=False), self._constraints)

    def set_params(self: T, **params: Any) -> T:
        valid = set(self.get_params(deep=False))
        unknown = sorted(set(params) - valid)
        if unknown:
            raise InvalidParameterError(f"unknown parameter {unknown[0]!r}; valid: {sorted(valid)}")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def _saved_params(self) -> dict[str, Any]:
        """The parameters as JSON values (tuples → lists, numpy scalars → Python), without the run-time-only
        ones: what config.json stores and what a checkpoint is fingerprinted with."""
        out: dict[str, Any] = {}
        for key, value in self.get_params(deep=False).items():
            if key not in RUNTIME_PARAMS:
                out[key] = _plain(value)
        return out

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    def _dp_config(self, n: int, *, min_rows: int, unit: str = "rows", **shares: float) -> DPConfig | None:
        """The frozen DP settings of a fit on ``n`` records (``None`` without DP): ``epsilon``, ``delta``,
        ``accountant`` and ``max_grad_norm`` of this estimator, plus the budget ``shares`` it declares
        (``domain_share``, ``marginal_share``), checked by :meth:`DPConfig.resolve`."""
        from ehrsynth.dp.budget import DPConfig

        if self.epsilon is None:
            return None
        return DPConfig.resolve(
            epsilon=self.epsilon,
            delta=self.delta,
            accountant=self.accountant,
            n=n,
            min_rows=min_rows,
            unit=unit,
            max_grad_norm=float(self.max_grad_norm),
            **{name: float(value) for name, value in shares.items()},
        )
