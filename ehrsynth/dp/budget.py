"""One budget for every phase: the frozen :class:`DPConfig` passed down a fit, and how its (ε, δ) is split
between the fixed-noise releases (DP schema discovery, 1-way marginals) and DP-SGD.

Each fixed release gets its share of ε *measured alone* (:meth:`DPConfig.release_noise`); the DP-SGD phases'
noise multipliers are then calibrated together (equal multipliers, :func:`plan_sgd_noise`) so that the
composition of everything equals the target ε under the chosen accountant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ehrsynth.dp.accounting import Mechanism, PoissonGaussian, compute_epsilon, default_delta
from ehrsynth.dp.calibration import Phase, calibrate_noise
from ehrsynth.dp.checks import check_epsilon, resolve_delta
from ehrsynth.errors import PrivacyBudgetError

DEFAULT_DOMAIN_SHARE = 0.1


def domain_noise_multiplier(
    releases: int, *, epsilon: float, delta: float, share: float, accountant: str
) -> float:
    """Noise multiplier for ``releases`` Gaussian releases that together spend ``share * epsilon`` alone."""
    if releases <= 0:
        return 0.0
    (mech,) = calibrate_noise(
        [Phase("domain", 1.0, releases)], epsilon=share * epsilon, delta=delta, accountant=accountant
    )
    return mech.noise_multiplier


@dataclass(frozen=True)
class DPConfig:
    """The privacy settings of one fit, resolved and checked: ε, δ (already below 1/n), the accountant, the
    shares of ε measured alone for DP schema discovery (``domain_share``) and the 1-way marginal release
    (``marginal_share``), and the DP-SGD clipping norm."""

    epsilon: float
    delta: float
    accountant: str
    domain_share: float = DEFAULT_DOMAIN_SHARE
    marginal_share: float = 0.0
    max_grad_norm: float = 1.0

    @classmethod
    def resolve(
        cls,
        *,
        epsilon: float,
        delta: float | None,
        accountant: str,
        n: int,
        min_rows: int,
        unit: str = "rows",
        domain_share: float = DEFAULT_DOMAIN_SHARE,
        marginal_share: float = 0.0,
        max_grad_norm: float = 1.0,
    ) -> DPConfig:
        """Check ε and the table size, and default δ to :func:`default_delta` (always below 1/n)."""
        eps = check_epsilon(epsilon, "; use epsilon=None for no DP")
        if n < min_rows:
            raise PrivacyBudgetError(
                f"the table has {n} {unit}; DP training needs at least {min_rows} (with fewer, the noise "
                f"drowns the signal); use more {unit} or train without DP (epsilon=None) on non-sensitive data"
            )
        d = resolve_delta(delta, n, default=default_delta(n), unit=unit)
        return cls(eps, d, accountant, domain_share, marginal_share, max_grad_norm)

    def release_noise(self, releases: int, share: float) -> float:
        """Noise multiplier for ``releases`` Gaussian releases spending ``share`` of ε measured alone."""
        return domain_noise_multiplier(
            releases, epsilon=self.epsilon, delta=self.delta, share=share, accountant=self.accountant
        )


@dataclass(frozen=True)
class BudgetPlan:
    phases: dict[str, PoissonGaussian]  # by phase name; a phase with no steps is absent
    mechanisms: list[Mechanism]  # everything, in order: fixed..., then the phases
    epsilon_spent: float


def plan_sgd_noise(phases: Sequence[Phase], dp: DPConfig, *, fixed: Sequence[Mechanism] = ()) -> BudgetPlan:
    """Calibrate one noise multiplier for the DP-SGD ``phases`` (name, sample rate, steps) so that they and
    the ``fixed`` mechanisms together spend ``dp.epsilon`` at ``dp.delta``."""
    active = [p for p in phases if p.steps > 0]
    calibrated = calibrate_noise(
        active, epsilon=dp.epsilon, delta=dp.delta, fixed=list(fixed), accountant=dp.accountant
    )
    mechanisms: list[Mechanism] = [*fixed, *calibrated]
    spent = compute_epsilon(mechanisms, dp.delta, accountant=dp.accountant)
    return BudgetPlan({m.name: m for m in calibrated}, mechanisms, spent)
