"""What ``privacy.json`` holds: :class:`PrivacyRecord`, the budget, the ε spent, the accountant, every mechanism run
and where the schema came from; ε is always recomputable from it (:mod:`ehrsynth.dp.accounting`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ehrsynth.dp.accounting import (
    Gaussian,
    Laplace,
    Mechanism,
    PoissonGaussian,
    _check_accountant,
    _check_delta,
    compute_epsilon,
    mechanism_from_dict,
    mechanism_to_dict,
)
from ehrsynth.errors import InvalidParameterError, PrivacyBudgetError

_RECORD_KEYS = ("epsilon", "delta", "epsilon_spent", "accountant", "mechanisms")
SCHEMA_SOURCES = ("declared", "declared-data-derived", "released", "declared+released")
_OPTIONAL_KEYS = ("schema_source", "privacy_unit")


@dataclass
class PrivacyRecord:
    """What ``privacy.json`` holds: the budget, the ε spent, the accountant, and every mechanism run.

    ``epsilon is None`` marks a model trained WITHOUT differential privacy (then every field is None and
    ``mechanisms`` is empty): no guarantee holds.
    """

    epsilon: float | None
    delta: float | None
    epsilon_spent: float | None
    accountant: str | None
    mechanisms: list[Mechanism] = field(default_factory=list)
    # where the schema's domains came from: "declared" (public, user-written), "declared-data-derived"
    # (written by `ehrsynth schema --with-values`, stated public by the user), "released" (DP release), or
    # "declared+released" (kinds declared, values released)
    schema_source: str | None = None
    # "row" when the fit was told that rows need not be patients (``privacy_unit="row"``; its release notes name
    # the repeated key columns); absent (None) otherwise: no person or visit key repeated (ehrsynth.dp.unit)
    privacy_unit: str | None = None

    def __post_init__(self) -> None:
        if self.privacy_unit is not None and self.privacy_unit != "row":
            raise PrivacyBudgetError(f"privacy_unit must be 'row' or null, found {self.privacy_unit!r}")
        if self.schema_source is not None and self.schema_source not in SCHEMA_SOURCES:
            raise PrivacyBudgetError(
                f"schema_source must be one of {SCHEMA_SOURCES} or null, found {self.schema_source!r}"
            )
        if self.epsilon is None:
            if (
                any(v is not None for v in (self.delta, self.epsilon_spent, self.accountant))
                or self.mechanisms
            ):
                raise PrivacyBudgetError(
                    "a non-private record (epsilon null) must have delta, epsilon_spent and accountant null and "
                    "no mechanisms"
                )
            return
        for key, allow_zero in (("epsilon", False), ("epsilon_spent", True)):
            v = getattr(self, key)
            real = not isinstance(v, bool) and isinstance(v, numbers.Real) and math.isfinite(float(v))
            if not real or not (v >= 0 if allow_zero else v > 0):
                raise PrivacyBudgetError(
                    f"{key} must be a finite number {'>=' if allow_zero else '>'} 0, found {v!r}"
                )
            setattr(self, key, float(v))
        self.delta = _check_delta(self.delta)
        self.accountant = _check_accountant(self.accountant)
        self.mechanisms = list(self.mechanisms)
        for m in self.mechanisms:
            if not isinstance(m, (PoissonGaussian, Gaussian, Laplace)):
                raise InvalidParameterError(f"not a privacy mechanism: {m!r}")

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    @classmethod
    def non_private(cls) -> PrivacyRecord:
        return cls(epsilon=None, delta=None, epsilon_spent=None, accountant=None, mechanisms=[])

    @classmethod
    def composed(
        cls, epsilon: float | None, delta: float | None, accountant: str, mechanisms: Sequence[Mechanism]
    ) -> PrivacyRecord:
        """The record of a fit that ran ``mechanisms``: ε spent is their composition at ``delta``
        (``epsilon=None``: a non-private record)."""
        if epsilon is None:
            return cls.non_private()
        spent = compute_epsilon(list(mechanisms), float(delta or 0.0), accountant=accountant)
        return cls(
            epsilon=float(epsilon),
            delta=delta,
            epsilon_spent=spent,
            accountant=accountant,
            mechanisms=list(mechanisms),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: getattr(self, key) for key in _RECORD_KEYS[:-1]}
        out["mechanisms"] = [mechanism_to_dict(m) for m in self.mechanisms]
        for key in _OPTIONAL_KEYS:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PrivacyRecord:
        if not isinstance(d, Mapping):
            raise PrivacyBudgetError(f"a privacy record must be a JSON object, found {type(d).__name__}")
        missing = [k for k in _RECORD_KEYS if k not in d]
        unknown = sorted(set(d) - set(_RECORD_KEYS) - set(_OPTIONAL_KEYS))
        if missing or unknown:
            raise PrivacyBudgetError(
                f"a privacy record needs exactly the keys {list(_RECORD_KEYS)}; missing {missing}, unknown {unknown}"
            )
        mechs = d["mechanisms"]
        if not isinstance(mechs, list):
            raise PrivacyBudgetError(f"'mechanisms' must be a list, found {type(mechs).__name__}")
        return cls(
            **{key: d[key] for key in _RECORD_KEYS[:-1]},
            mechanisms=[mechanism_from_dict(m) for m in mechs],
            schema_source=d.get("schema_source"),
            privacy_unit=d.get("privacy_unit"),
        )

    def recompute(self) -> float:
        """ε of ``mechanisms`` at ``delta`` with ``accountant`` (``inf`` for a non-private record)."""
        if self.epsilon is None or self.delta is None or self.accountant is None:
            return math.inf
        return compute_epsilon(self.mechanisms, self.delta, self.accountant)

    def breakdown(self) -> list[dict[str, Any]]:
        """One row per mechanism: its ``privacy.json`` entry plus ``epsilon_alone``, its own ε at the same δ.

        The composed ε is at most the sum of these (and usually well below it).
        """
        return [
            {**mechanism_to_dict(m), "epsilon_alone": compute_epsilon([m], self.delta, self.accountant)}
            for m in self.mechanisms
            if self.delta is not None and self.accountant is not None
        ]
