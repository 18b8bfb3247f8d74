"""Atomic file writes; the code lives in :mod:`ehrsynth.fsutil.atomic` (the lowest layer, so that the schema and
training checkpoints can use it without importing :mod:`ehrsynth.io`), re-exported here."""

from ehrsynth.fsutil.atomic import (
    atomic_path,
    ensure_parent,
    sha256_file,
    write_bytes_atomic,
    write_text_atomic,
    write_with,
)

__all__ = [
    "atomic_path",
    "ensure_parent",
    "sha256_file",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_with",
]
