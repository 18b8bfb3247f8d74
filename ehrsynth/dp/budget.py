"""One budget for every phase: split (ε, δ) between DP domain discovery and DP-SGD, calibrated jointly.

Domain discovery (when no schema is declared) gets ``domain_share`` of ε *measured alone*; the autoencoder and
discriminator noise multipliers are then calibrated together (equal multipliers) so that the composition of
everything — domain mechanisms included — equals the target ε under the chosen accountant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ehrsynth.dp.accounting import Mechanism, PoissonGaussian, compute_epsilon
from ehrsynth.dp.calibration import Phase, calibrate_noise
from ehrsynth.errors import PrivacyBudgetError
from ehrsynth.training.schedule import Schedule

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
class BudgetPlan:
    autoencoder: PoissonGaussian
    discriminator: PoissonGaussian
    mechanisms: list[Mechanism]  # everything, in order: domain..., autoencoder, discriminator
    epsilon_spent: float


def plan_sgd_noise(
    schedule: Schedule,
    *,
    epsilon: float,
    delta: float,
    accountant: str,
    fixed: Sequence[Mechanism] = (),
) -> BudgetPlan:
    q = schedule.sample_rate
    if q is None:
        raise PrivacyBudgetError("internal: a DP plan needs a DP schedule (sample_rate)")
    phases = [Phase("autoencoder", q, schedule.ae_steps), Phase("discriminator", q, schedule.d_total_steps)]
    phases = [p for p in phases if p.steps > 0]
    calibrated = calibrate_noise(
        phases, epsilon=epsilon, delta=delta, fixed=list(fixed), accountant=accountant
    )
    by_name = {m.name: m for m in calibrated}
    ae = by_name.get("autoencoder", PoissonGaussian("autoencoder", 1.0, q, 0))
    disc = by_name.get("discriminator", PoissonGaussian("discriminator", 1.0, q, 0))
    mechanisms: list[Mechanism] = [*fixed, *calibrated]
    spent = compute_epsilon(mechanisms, delta, accountant=accountant)
    return BudgetPlan(ae, disc, mechanisms, spent)
