"""Atomic file writes: write to a temporary file in the target directory, then rename.

A reader never sees a half-written file, and a failure leaves nothing behind: an exception, Ctrl-C (SIGINT,
raised as ``KeyboardInterrupt``) and SIGTERM (while a write is in progress in the main thread, SIGTERM raises
``SystemExit(143)`` so that the temporary file is removed before the process ends) all remove the
``.NAME.*.tmp`` file. SIGKILL (``kill -9``, the out-of-memory killer) and a power cut cannot be intercepted: they
may leave a ``.NAME.*.tmp`` file next to the target, never a half-written target; such files can be deleted.
A SIGTERM handler installed by the application is left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ehrsynth.errors import InvalidDataError

__all__ = [
    "atomic_path",
    "ensure_parent",
    "sha256_file",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_with",
]


def ensure_parent(path: Path) -> None:
    """Raise a clear error when the directory that should hold ``path`` does not exist."""
    parent = path.resolve().parent
    if not parent.is_dir():
        raise InvalidDataError(
            f"output directory {str(parent)!r} does not exist; create it first or choose another path"
        )


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While inside, SIGTERM raises ``SystemExit`` (so ``finally`` blocks run) instead of ending the process at
    once; only in the main thread and only when SIGTERM still has its default action."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``."""
    target = Path(path)
    ensure_parent(target)
    with _sigterm_unwinds():
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.resolve().parent)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            yield tmp_path
            os.replace(tmp_path, target)
        finally:
            if tmp_path.exists():
                tmp_path.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and atomically move the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
