"""Atomic file writes; the code lives in :mod:`ehrsynth.fsutil.atomic` (the lowest layer, so that the schema and
training checkpoints can use it without importing :mod:`ehrsynth.io`), re-exported here."""

from ehrsynth.fsutil.atomic import *  # noqa: F403  (the public names, as listed there)
from ehrsynth.fsutil.atomic import __all__ as __all__
