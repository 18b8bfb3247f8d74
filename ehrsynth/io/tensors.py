"""safetensors helpers; the code lives in :mod:`ehrsynth.fsutil.tensors` (the lowest layer, so that training
checkpoints can use it without importing :mod:`ehrsynth.io`), re-exported here."""

from ehrsynth.fsutil.tensors import *  # noqa: F403  (the public names, as listed there)
from ehrsynth.fsutil.tensors import __all__ as __all__
