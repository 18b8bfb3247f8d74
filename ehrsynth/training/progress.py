"""Progress reporting: trainers emit :class:`ProgressEvent` s to a callback; the CLI (or ``verbose=True``)
turns them into tqdm bars. Library code never prints."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProgressEvent:
    phase: str  # "autoencoder" | "gan" | "query fit" (the measure engine)
    step: int  # steps done in this phase
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    # the module this phase trains (autoencoder phase: the autoencoder), for callers that snapshot it, e.g.
    # the DP audit at the end of the autoencoder phase; the estimator's fitted attributes exist only after fit
    module: Any = None


ProgressCallback = Callable[[ProgressEvent], None]


class TqdmProgress:
    """A progress callback drawing one tqdm bar per phase (epoch/step, losses, ETA) on stderr."""

    def __init__(self, min_interval: float = 0.2) -> None:
        self.min_interval = min_interval
        self._bars: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        from tqdm.auto import tqdm

        bar = self._bars.get(event.phase)
        if bar is None:
            bar = tqdm(total=event.total, desc=event.phase, unit="step", mininterval=self.min_interval)
            self._bars[event.phase] = bar
        bar.update(event.step - bar.n)
        if event.losses:
            bar.set_postfix({k: f"{v:.3f}" for k, v in event.losses.items()}, refresh=False)
        if event.step >= event.total:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


class Throttle:
    """Call a progress callback at most every ``interval`` seconds (and always on the last step)."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        phase: str,
        total: int,
        interval: float = 0.25,
        module: Any = None,
    ) -> None:
        self.module = module
        self.callback = callback
        self.phase = phase
        self.total = total
        self.interval = interval
        self.start = time.perf_counter()
        self._last = 0.0

    def __call__(self, step: int, losses: dict[str, float]) -> None:
        if self.callback is None:
            return
        now = time.perf_counter()
        if step >= self.total or now - self._last >= self.interval:
            self._last = now
            self.callback(ProgressEvent(self.phase, step, self.total, losses, now - self.start, self.module))
