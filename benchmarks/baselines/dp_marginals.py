"""DP independent marginals: the floor of the peer benchmark (docs/design.md §6: perfect per-code probability up to
noise, no dependence at all).

Mechanism. Every column is discretised over its public domain (:mod:`tabular`); the histogram of each column
is released with Gaussian noise of the same standard deviation σ, each noisy histogram is clipped at 0 and
normalised, and synthetic rows draw every column independently from its histogram.

Accounting (add/remove-one-record neighbours). A record adds 1 to exactly one bin of each of the d column
histograms, so the concatenation of all histograms has L2 sensitivity √d. The Gaussian mechanism with noise σ
on every count is ρ-zCDP with ρ = d / (2σ²) (Bun & Steinke 2016, Prop. 1.6) — equivalently the d column
releases each cost ρ/d and zCDP composes additively, i.e. the budget is split equally across columns. ρ-zCDP
implies (ρ + 2√(ρ ln(1/δ)), δ)-DP (Prop. 1.3), so for a target (ε, δ) we take
√ρ = √(ln(1/δ) + ε) − √(ln(1/δ)) and σ = √(d / (2ρ)). This is the same accounting MST and AIM use.
The domains are declared public (the benchmark's schema); the row count used to normalise is the noisy total
of each histogram, so nothing else reads the data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from tabular import discretize, domain, undiscretize


def zcdp_rho(epsilon: float, delta: float) -> float:
    """The largest ρ such that ρ-zCDP implies (ε, δ)-DP via ε = ρ + 2√(ρ ln 1/δ)."""
    if epsilon <= 0 or not 0 < delta < 1:
        raise ValueError(f"need epsilon > 0 and 0 < delta < 1, found epsilon={epsilon}, delta={delta}")
    log_inv = math.log(1.0 / delta)
    return (math.sqrt(log_inv + epsilon) - math.sqrt(log_inv)) ** 2


def epsilon_of(rho: float, delta: float) -> float:
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


class DPIndependentMarginals:
    """Gaussian-noised per-column histograms; ``epsilon=None`` releases the exact histograms (non-DP floor)."""

    def __init__(self, epsilon: float | None, delta: float, random_state: int = 0) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.random_state = random_state

    def fit(self, df: pd.DataFrame, schema: dict[str, dict[str, Any]]) -> DPIndependentMarginals:
        rng = np.random.default_rng(self.random_state)
        disc = discretize(df, schema)
        d = len(schema)
        if self.epsilon is None:
            self.sigma_ = 0.0
            self.rho_ = math.inf
        else:
            self.rho_ = zcdp_rho(self.epsilon, self.delta)
            self.sigma_ = math.sqrt(d / (2.0 * self.rho_))
        self.schema_ = schema
        self.probs_: dict[str, tuple[list[str], np.ndarray]] = {}
        for name, spec in schema.items():
            values = [str(v) for v in domain(spec)]
            counts = disc[name].value_counts().reindex(values, fill_value=0).to_numpy(float)
            noisy = counts + rng.normal(0.0, self.sigma_, size=len(counts)) if self.sigma_ else counts
            noisy = np.clip(noisy, 0.0, None)
            total = noisy.sum()
            probs = noisy / total if total > 0 else np.full(len(values), 1.0 / len(values))
            self.probs_[name] = (values, probs)
        return self

    def sample(self, n: int, random_state: int = 1) -> pd.DataFrame:
        rng = np.random.default_rng(random_state)
        disc = pd.DataFrame(
            {
                name: np.asarray(values)[rng.choice(len(values), size=n, p=p)]
                for name, (values, p) in self.probs_.items()
            }
        )
        return undiscretize(disc, self.schema_, rng)
