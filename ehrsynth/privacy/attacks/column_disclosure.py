"""Column-level disclosure: are values that only training records hold reproduced in the synthetic table?

Row-level attacks miss a synthesizer that copies an identifier-like column (names, licence or passport numbers)
value by value while shuffling the rows. This attack looks at one column at a time:

- members and non-members are equally large sets of training and holdout rows (the larger side is subsampled
  with the audit's generator);
- a *member-only* value is held by some member and by no non-member; a *non-member-only* value the reverse;
- the **attack rate** is the share of member-only values that appear in the synthetic column, the **control**
  the share of non-member-only values that do. A synthesizer that learned the population, not the people,
  reproduces both equally often (the two sets are exchangeable); one that copies training values reproduces
  the first far more often. Risk = (attack - control) / (1 - control) with the proportions test and the verdict
  rules of :mod:`ehrsynth.privacy.thresholds`.

Columns are tested highest cardinality first (identifier-like columns — dropped from the row attacks or nearly
unique strings/integers, even with a missing value or a duplicate — always), at most ``MAX_COLUMNS`` of them
and only when they have at least ``MIN_VALUES`` member-only and non-member-only values; the summary also counts
the rarest values (held by exactly one member) that were reproduced. Values themselves are never reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.stats import excess_risk

ATTACK = "column_disclosure"
MIN_VALUES = 10
MAX_COLUMNS = 10
#: A string or integer column whose non-missing values are at least this share distinct is identifier-like.
NEARLY_UNIQUE = 0.9
MIN_ROWS_NEARLY_UNIQUE = 20


@dataclass
class ColumnDisclosureResult:
    summary: dict[str, Any]
    indicators: list[th.RiskIndicator]


def comparable(s: pd.Series) -> pd.Series:
    """Non-missing values of a column as strings that compare equal across tables (5, 5.0 and "5.0" for a
    numeric column; stripped text otherwise)."""
    s = s.dropna()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return pd.Series(s.to_numpy(dtype=np.float64).astype(str), dtype=object)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("int64").astype(str)
    return s.astype(str).str.strip()


def nearly_unique(s: pd.Series) -> bool:
    """A string or integer-valued column whose non-missing values are nearly all distinct (an identifier even
    with a missing value or a duplicate)."""
    values = s.dropna()
    if len(values) < MIN_ROWS_NEARLY_UNIQUE or pd.api.types.is_bool_dtype(s):
        return False
    if pd.api.types.is_float_dtype(s):
        arr = values.to_numpy(dtype=np.float64)
        if not np.all(arr == np.round(arr)):
            return False  # measurements, not keys
    elif pd.api.types.is_datetime64_any_dtype(s):
        return False
    return values.nunique() >= NEARLY_UNIQUE * len(values)


def _column_rates(members: pd.Series, nonmembers: pd.Series, synthetic: set[str]) -> dict[str, int]:
    m, n = comparable(members), comparable(nonmembers)
    m_counts = m.value_counts()
    m_set, n_set = set(m_counts.index), set(n)
    member_only = m_set - n_set
    nonmember_only = n_set - m_set
    singletons = {v for v in member_only if m_counts[v] == 1}
    return {
        "member_only": len(member_only),
        "member_only_in_synthetic": len(member_only & synthetic),
        "nonmember_only": len(nonmember_only),
        "nonmember_only_in_synthetic": len(nonmember_only & synthetic),
        "member_singletons": len(singletons),
        "member_singletons_in_synthetic": len(singletons & synthetic),
        "distinct_values": len(m_set | n_set),
    }


def run_column_disclosure(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    identifier_like: Mapping[str, str],
    rng: np.random.Generator,
) -> ColumnDisclosureResult:
    """``identifier_like`` maps columns the audit already considers identifiers to the reason."""
    size = min(len(train), len(holdout))
    members = train.iloc[np.sort(rng.permutation(len(train))[:size])]
    nonmembers = holdout.iloc[np.sort(rng.permutation(len(holdout))[:size])]
    flagged = dict(identifier_like)
    for name in train.columns:
        if name not in flagged and nearly_unique(pd.concat([train[name], holdout[name]], ignore_index=True)):
            flagged[name] = "nearly unique values"
    cardinality = {
        name: members[name].nunique() / max(1, int(members[name].notna().sum())) for name in train.columns
    }
    order = sorted(train.columns, key=lambda c: (c not in flagged, -cardinality[c], str(c)))
    columns: dict[str, Any] = {}
    indicators: list[th.RiskIndicator] = []
    for name in order:
        if len(indicators) >= MAX_COLUMNS:
            break
        counts = _column_rates(members[name], nonmembers[name], set(comparable(synthetic[name])))
        if min(counts["member_only"], counts["nonmember_only"]) < MIN_VALUES:
            continue
        k_a, n_a = counts["member_only_in_synthetic"], counts["member_only"]
        k_c, n_c = counts["nonmember_only_in_synthetic"], counts["nonmember_only"]
        est = excess_risk(k_a, n_a, k_c, n_c, confidence=th.REPORT_CONFIDENCE)
        columns[str(name)] = {
            **counts,
            "identifier_like": flagged.get(name),
            "attack_rate": k_a / n_a,
            "control_rate": k_c / n_c,
            "risk": est.value,
            "risk_ci": list(est.ci),
        }
        indicators.append(
            th.RiskIndicator(
                attack=ATTACK,
                name=f"{name}: training-only values reproduced",
                value=est.value,
                ci=est.ci,
                test=th.proportions_test(k_a, n_a, k_c, n_c),
            )
        )
    summary: dict[str, Any] = {
        "set_size": size,
        "columns": columns,
        "identifier_like": {str(k): v for k, v in flagged.items()},
        "max_risk": max((i.value for i in indicators), default=0.0),
    }
    if not columns:
        summary["skipped"] = (
            f"no column has at least {MIN_VALUES} values held only by training records and {MIN_VALUES} held "
            "only by holdout records (low-cardinality columns cannot disclose values)"
        )
    return ColumnDisclosureResult(summary=summary, indicators=indicators)


def describe_top(summary: Mapping[str, Any], limit: int = 3) -> Sequence[str]:
    """Plain-language lines for the riskiest tested columns."""
    cols = sorted(summary.get("columns", {}).items(), key=lambda kv: -kv[1]["risk"])[:limit]
    return [
        f"{name}: {c['member_only_in_synthetic']} of {c['member_only']} values held only by training records "
        f"appear in the synthetic table, against {c['nonmember_only_in_synthetic']} of {c['nonmember_only']} "
        "held only by holdout records"
        for name, c in cols
    ]
