"""Independent recomputation of ε from a ``privacy.json`` with Google's ``dp_accounting`` PLD accountant.

Reads ONLY the JSON (no ehrsynth code), so it checks the file's claim the way an outside auditor would.
Tests import it as ``import pld`` (pytest's pythonpath includes tests/)::

    pld.pld_epsilon(model_dir / "privacy.json")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def pld_events(mechanisms: list[Mapping[str, Any]]) -> list[Any]:
    """dp_accounting events for the ``mechanisms`` list of a privacy.json (zero-step entries dropped)."""
    import dp_accounting

    events: list[Any] = []
    for m in mechanisms:
        kind, nm = m["type"], float(m["noise_multiplier"])
        if kind == "poisson_gaussian":
            n, q = int(m["steps"]), float(m["sample_rate"])
            one = (
                dp_accounting.GaussianDpEvent(nm)
                if q == 1.0
                else dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(nm))
            )
        elif kind == "gaussian":
            n, one = int(m.get("count", 1)), dp_accounting.GaussianDpEvent(nm)
        elif kind == "laplace":
            n, one = int(m.get("count", 1)), dp_accounting.LaplaceDpEvent(nm)
        else:
            raise ValueError(f"unknown mechanism type {kind!r}")
        if n > 0:
            events.append(dp_accounting.SelfComposedDpEvent(one, n))
    return events


def pld_epsilon(
    privacy: Mapping[str, Any] | str | Path,
    delta: float | None = None,
    *,
    value_discretization_interval: float = 1e-4,
) -> float:
    """ε of a privacy.json (a dict or a path) at its δ (or ``delta``) by dp_accounting's PLD accountant
    (add/remove-one neighbours, pessimistic discretisation)."""
    import dp_accounting
    from dp_accounting.pld import PLDAccountant

    record: Mapping[str, Any] = (
        privacy if isinstance(privacy, Mapping) else json.loads(Path(privacy).read_text(encoding="utf-8"))
    )
    events = pld_events(list(record["mechanisms"]))
    if not events:
        return 0.0
    accountant = PLDAccountant(value_discretization_interval=value_discretization_interval)
    accountant.compose(dp_accounting.ComposedDpEvent(events))
    return float(accountant.get_epsilon(float(delta if delta is not None else record["delta"])))
