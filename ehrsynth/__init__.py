"""ehrsynth: privacy-preserving synthetic electronic health records.

Public API (imported lazily so that ``import ehrsynth`` and ``ehrsynth --help`` stay fast and the
privacy auditor works without torch):

- :func:`synthesize` — one call from a real table to a synthetic one.
- :class:`MedGAN` — the scikit-learn style estimator behind it.
- :class:`Schema` — declared or inferred column kinds.
- :func:`load` — load a saved model directory.
- :func:`read_synthetic` — read a synthetic table with its dtypes restored from the sidecar.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ehrsynth._lazy import lazy_getattr
from ehrsynth._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "synthesize": ("ehrsynth.api", "synthesize"),
    "MedGAN": ("ehrsynth.estimator", "MedGAN"),
    "Schema": ("ehrsynth.schema", "Schema"),
    "load": ("ehrsynth.estimator", "load"),
    "read_synthetic": ("ehrsynth.io.synthetic", "read_synthetic"),
}

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.api import synthesize
    from ehrsynth.estimator import MedGAN, load
    from ehrsynth.io.synthetic import read_synthetic
    from ehrsynth.schema import Schema


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["MedGAN", "Schema", "__version__", "load", "read_synthetic", "synthesize"]
