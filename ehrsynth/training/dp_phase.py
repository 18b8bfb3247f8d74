"""The DP settings of one training phase; the accountant sees exactly (noise_multiplier, sample_rate, steps)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DPPhase:
    noise_multiplier: float
    sample_rate: float
    max_grad_norm: float = 1.0

    def expected_batch_size(self, n: int) -> int:
        return max(1, round(self.sample_rate * n))
