"""Atomic writes leave no temporary file behind on SIGTERM or SIGINT (issue 13 item 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ehrsynth.io.atomic import write_text_atomic, write_with

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys, time
from pathlib import Path
from ehrsynth.io.atomic import write_with

def slow(tmp: Path) -> None:
    tmp.write_text("partial")
    print("writing", flush=True)
    time.sleep(60)

write_with(sys.argv[1], slow)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_write_removes_the_temporary_file(tmp_path: Path, sig: signal.Signals) -> None:
    target = tmp_path / "out.csv"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # a shell's background job inherits SIGINT ignored; the child must see it as a user at a terminal does
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    proc.send_signal(sig)
    rc = proc.wait(timeout=30)
    time.sleep(0.05)
    assert list(tmp_path.iterdir()) == []
    if sig == signal.SIGTERM:
        assert rc == 128 + signal.SIGTERM


def test_sigterm_handler_is_restored_after_a_write(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    write_text_atomic(tmp_path / "a.txt", "x")
    assert signal.getsignal(signal.SIGTERM) is before


def test_failed_writer_leaves_nothing(tmp_path: Path) -> None:
    def boom(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_with(tmp_path / "x.csv", boom)
    assert list(tmp_path.iterdir()) == []
