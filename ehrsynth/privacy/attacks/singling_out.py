"""Singling out and copies.

- **Singling out**: among members, the quasi-identifier combinations held by exactly one member; the attack rate is
  the share of them that also appear in the synthetic table (an attacker could isolate that person). The control
  is the same rate for combinations unique among an equally large set of holdout records. Numeric
  quasi-identifiers are compared by quantile bin.
- **Exact copies**: training rows reproduced verbatim in the synthetic table (all audited columns equal), against
  the rate for holdout rows (common records are "copied" by chance).
- **Near copies**: distance to the closest synthetic record at most ``near_copy_distance`` (in column units: on
  0/1 codes, the number of differing codes), against the holdout rate.

Each gives risk = (attack - control) / (1 - control) with a bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.stats import excess_risk


@dataclass
class SinglingOutResult:
    summary: dict[str, Any]
    indicators: list[th.RiskIndicator]


def row_keys(codes: np.ndarray) -> np.ndarray:
    """A 64-bit hash per row of an integer code matrix."""
    return np.asarray(pd.util.hash_pandas_object(pd.DataFrame(codes), index=False).to_numpy())


def _rate_entry(
    name: str, k_a: int, n_a: int, k_c: int, n_c: int, n_bootstrap: int, rng: np.random.Generator
) -> tuple[dict[str, Any], th.RiskIndicator]:
    est = excess_risk(k_a, n_a, k_c, n_c, n_bootstrap=n_bootstrap, confidence=th.REPORT_CONFIDENCE, rng=rng)
    entry = {
        "attack_rate": k_a / n_a,
        "control_rate": k_c / n_c,
        "attack_count": k_a,
        "attack_n": n_a,
        "control_count": k_c,
        "control_n": n_c,
        "risk": est.value,
        "risk_ci": list(est.ci),
    }
    test = th.proportions_test(k_a, n_a, k_c, n_c)
    return entry, th.RiskIndicator(attack="singling_out", name=name, value=est.value, ci=est.ci, test=test)


def run_singling_out(
    qi_members: np.ndarray,
    qi_nonmembers: np.ndarray,
    qi_synthetic: np.ndarray,
    row_members: np.ndarray,
    row_nonmembers: np.ndarray,
    row_synthetic: np.ndarray,
    dcr_members: np.ndarray,
    dcr_nonmembers: np.ndarray,
    *,
    quasi_identifiers: Sequence[str],
    near_copy_distance: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> SinglingOutResult:
    """``qi_*`` are quasi-identifier key hashes, ``row_*`` full-row key hashes, ``dcr_*`` distances to the
    closest synthetic record."""
    n_bootstrap = max(n_bootstrap, 1000)
    summary: dict[str, Any] = {"quasi_identifiers": list(quasi_identifiers)}
    indicators: list[th.RiskIndicator] = []
    exact_m = int(np.isin(row_members, row_synthetic).sum())
    exact_n = int(np.isin(row_nonmembers, row_synthetic).sum())
    entry, ind = _rate_entry(
        "exact copies", exact_m, len(row_members), exact_n, len(row_nonmembers), n_bootstrap, rng
    )
    summary["exact_copies"] = entry
    indicators.append(ind)
    tol = near_copy_distance + 1e-6
    near_m, near_n = int((dcr_members <= tol).sum()), int((dcr_nonmembers <= tol).sum())
    entry, ind = _rate_entry(
        f"near copies (distance <= {near_copy_distance:g})",
        near_m,
        len(dcr_members),
        near_n,
        len(dcr_nonmembers),
        n_bootstrap,
        rng,
    )
    entry["distance"] = near_copy_distance
    summary["near_copies"] = entry
    indicators.append(ind)
    if len(quasi_identifiers):
        m = min(len(qi_members), len(qi_nonmembers))
        sub_m = qi_members[rng.permutation(len(qi_members))[:m]]
        sub_n = qi_nonmembers[rng.permutation(len(qi_nonmembers))[:m]]

        def unique_found(keys: np.ndarray) -> tuple[int, int]:
            values, counts = np.unique(keys, return_counts=True)
            unique = values[counts == 1]
            return int(np.isin(unique, qi_synthetic).sum()), len(unique)

        found_m, unique_m = unique_found(sub_m)
        found_n, unique_n = unique_found(sub_n)
        if unique_m and unique_n:
            entry, ind = _rate_entry("singling out", found_m, unique_m, found_n, unique_n, n_bootstrap, rng)
            entry["set_size"] = m
            summary["singling_out"] = entry
            indicators.append(ind)
        else:
            summary["singling_out"] = {
                "skipped": "no quasi-identifier combination is unique in the member or holdout set",
                "set_size": m,
            }
    return SinglingOutResult(summary=summary, indicators=indicators)
