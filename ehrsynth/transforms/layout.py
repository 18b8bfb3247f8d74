"""The encoded layout: a list of spans, each one column's block of units with its activation and loss."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class SpanKind(str, Enum):
    BINARY = "binary"  # one unit in {0, 1}: sigmoid / BCE
    MISSING = "missing"  # one unit flagging a missing value: sigmoid / BCE
    SCALED = "scaled"  # count, continuous or datetime scaled to [0, 1]: sigmoid / MSE
    SOFTMAX = "softmax"  # one-hot categorical block (last unit = missing when nullable): softmax / CE


@dataclass(frozen=True)
class Span:
    column: str
    kind: SpanKind
    start: int
    width: int

    @property
    def stop(self) -> int:
        return self.start + self.width


def unit_indexes(layout: list[Span], *kinds: SpanKind) -> np.ndarray:
    """Indexes of the single units of the given kinds (BINARY, MISSING, SCALED)."""
    idx = [s.start for s in layout if s.kind in kinds]
    return np.asarray(idx, dtype=np.int64)


def softmax_blocks(layout: list[Span]) -> list[tuple[int, int]]:
    return [(s.start, s.width) for s in layout if s.kind is SpanKind.SOFTMAX]
