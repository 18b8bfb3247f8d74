"""The one stage timer shared by the audit and the evaluation."""

from __future__ import annotations

import logging

import pytest

from ehrsynth.stopwatch import Stopwatch


def test_laps_total_and_rounding(caplog: pytest.LogCaptureFixture) -> None:
    watch = Stopwatch(logging.getLogger("ehrsynth.test"), "job")
    with caplog.at_level(logging.INFO, logger="ehrsynth.test"):
        watch.lap("a")
        sum(range(200_000))
        watch.lap("b")
    watch.lap("total")
    assert set(watch.wall) == set(watch.cpu) == {"a", "b", "total"}
    assert watch.wall["total"] >= watch.wall["a"] + watch.wall["b"] - 1e-9
    assert all(v >= 0 for v in [*watch.wall.values(), *watch.cpu.values()])
    assert "job: b took" in caplog.text
    wall, cpu = watch.totals(ndigits=2)
    assert wall["total"] == round(wall["total"], 2) and set(cpu) == {"a", "b", "total"}
