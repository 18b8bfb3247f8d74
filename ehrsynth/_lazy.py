"""Lazy package attributes: the one ``__getattr__`` the package ``__init__`` modules share (stdlib only).

A package lists its public names as ``{name: (module, attribute)}`` and sets
``__getattr__ = lazy_getattr(__name__, _LAZY)``; the module behind a name is imported on first access, so that
``import ehrsynth`` and ``ehrsynth --help`` stay fast and ``ehrsynth.privacy`` works without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, tuple[str, str]]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` that imports ``exports[name]`` on first access."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = exports[name]
        return getattr(importlib.import_module(module), attr)

    return __getattr__
