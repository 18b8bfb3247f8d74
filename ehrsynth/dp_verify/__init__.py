"""Empirical verification of a DP claim: canaries, training runs and a lower bound on ε (needs torch).

- :mod:`ehrsynth.dp_verify.runner`: :func:`dp_audit` (``ehrsynth audit-dp``);
- :mod:`ehrsynth.dp_verify.report`: :class:`DPAuditReport`, a :class:`ehrsynth.reporting.Report`, and its page;
- :mod:`ehrsynth.dp_verify.canaries`: canary records and the white-box scores of a fitted model;
- :mod:`ehrsynth.dp_verify.lower_bound`: the one-run and threshold ε lower bounds.

It lives outside :mod:`ehrsynth.privacy` (which audits released tables and imports no torch); the function is
re-exported there lazily as ``ehrsynth.privacy.dp_audit``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.dp_verify.runner import DPAuditReport, dp_audit

_LAZY = {"dp_audit", "DPAuditReport"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("ehrsynth.dp_verify.runner"), name)
    raise AttributeError(f"module 'ehrsynth.dp_verify' has no attribute {name!r}")


__all__ = ["DPAuditReport", "dp_audit"]
