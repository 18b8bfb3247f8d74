"""Run one worker process with a wall-clock limit and read its own peak memory (``os.wait4`` rusage)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ProcResult:
    returncode: int | None  # None: killed at the time limit
    wall_seconds: float
    peak_rss_mb: float  # ru_maxrss of wait4: this child only, but it includes the parent's image at fork
    cpu_seconds: float
    log_tail: str


def run_limited(
    cmd: list[str], timeout_s: float, log_path: Path, env: dict[str, str] | None = None
) -> ProcResult:
    """Start ``cmd`` in its own process group; kill the group when it runs past ``timeout_s``."""
    start = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        returncode: int | None = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                returncode = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - start > timeout_s:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
    proc.returncode = returncode if returncode is not None else -9  # keep Popen from waiting again
    tail = log_path.read_text(errors="replace")[-1500:]
    return ProcResult(
        returncode=returncode,
        wall_seconds=time.perf_counter() - start,
        peak_rss_mb=usage.ru_maxrss / 1024,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        log_tail=tail,
    )
