"""Wall-clock and CPU seconds per stage of a long computation (the audit, the evaluation); stdlib only.

CPU time is process time over all threads: the robust figure on a machine shared with other jobs.
"""

from __future__ import annotations

import logging
import time


class Stopwatch:
    """``lap(name)`` records the seconds since the previous lap (``lap("total")``: since the start) in ``wall``
    and ``cpu``; with a ``logger`` each lap is logged at INFO, prefixed by ``label``."""

    def __init__(self, logger: logging.Logger | None = None, label: str = "") -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._logger = logger
        self._label = label
        self._start = self._last = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        base = self._start if name == "total" else self._last
        self.wall[name] = now[0] - base[0]
        self.cpu[name] = now[1] - base[1]
        self._last = now
        if self._logger is not None:
            self._logger.info(
                "%s: %s took %.2f s (%.2f s CPU)", self._label, name, self.wall[name], self.cpu[name]
            )

    def totals(self, ndigits: int = 3) -> tuple[dict[str, float], dict[str, float]]:
        """(wall, cpu) per lap plus ``total`` since the start, rounded to ``ndigits`` decimals."""
        now = (time.perf_counter(), time.process_time())
        wall = {**self.wall, "total": now[0] - self._start[0]}
        cpu = {**self.cpu, "total": now[1] - self._start[1]}
        return (
            {k: round(v, ndigits) for k, v in wall.items()},
            {k: round(v, ndigits) for k, v in cpu.items()},
        )
