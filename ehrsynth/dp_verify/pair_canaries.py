"""Canaries for auditing the ``measure`` engine: each canary is a small set of indicator values (its
*signature*) whose pairs almost never co-occur in the base table and that no other canary shares.

The measure-then-fit engine (:mod:`ehrsynth.training.measure_engine`) sees the data only through released
1-way frequencies, cross-block pair counts and a few adaptive triples, and fits the generator + decoder to
them. A canary changes those releases by +1 on each of its own pairs, so it must put its weight on pairs that
are (nearly) empty without it: then its own pairs go from ~0 to 1 count, a change the fitted model can only
reproduce if the canary was trained on (DP bounds exactly that change).

Construction (the auditor sees the base table; nothing here is released):

- *items*: the value 1 of each binary column and each category of each categorical column; the base table's
  item co-occurrence counts ``C`` (pairs within one categorical column are not measured and never chosen);
- each canary picks ``signature_size`` items from distinct columns, greedily: the first is the least used
  so far, each next one minimises ``C`` to the items already chosen plus ``REUSE_COST`` per earlier canary
  using the same pair (ties at random), so signatures are (near) disjoint and (near) absent from the data;
- binary items are used when the table has at least ``2 * signature_size`` binary columns (codes); else the
  non-modal categories of categorical columns;
- every other value is *filler* shared by all canaries: binary columns 0, categorical columns their most
  common category, numeric and date columns the base table's median row value, identifiers fresh keys.
  Canaries are never missing a value.

The signature of a canary is recovered from the canary rows alone by :func:`signature_items` (its values
that fewer than half the canaries share), so the scorer needs no side channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import InvalidParameterError, SchemaError
from ehrsynth.schema import Kind, Schema

#: Items per canary signature (C(4, 2) = 6 pairs): at most the engine's cap K of free ones per row.
SIGNATURE_SIZE = 4
#: Cost of reusing a pair already in another canary's signature, in base-table co-occurrences.
REUSE_COST = 3.0


def _items(df: pd.DataFrame, schema: Schema, k: int) -> tuple[list[tuple[str, Any]], np.ndarray]:
    """The signature items (column, value) and their base-table 0/1 matrix (n × items)."""
    binary = [c.name for c in schema.columns if c.kind is Kind.BINARY]
    items: list[tuple[str, Any]] = []
    cols: list[np.ndarray] = []
    if len(binary) >= 2 * k:
        for name in binary:
            on = pd.to_numeric(df[name], errors="coerce").fillna(0).to_numpy() != 0
            items.append((name, 1))
            cols.append(on)
    else:
        for col in schema.columns:
            if col.kind is not Kind.CATEGORICAL:
                continue
            mode = _mode(df, col.name, list(col.categories or []))
            for cat in col.categories or []:
                if cat != mode:
                    items.append((col.name, cat))
                    cols.append((df[col.name] == cat).to_numpy())
    if len({name for name, _ in items}) < k:
        raise InvalidParameterError(
            f"a measure-engine audit needs at least {k} binary columns or {k} categorical columns with two or "
            f"more categories to build canary signatures, found {len({n for n, _ in items})}; audit a table "
            "with code columns, or use engine='dpsgd'"
        )
    return items, np.column_stack(cols).astype(np.float64)


def _mode(df: pd.DataFrame, name: str, categories: list[Any]) -> Any:
    counts = df[name].value_counts()
    ranked = [c for c in counts.index if c in set(categories)]
    return ranked[0] if ranked else categories[0]


def choose_signatures(
    counts: np.ndarray, columns: list[str], m: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """(m, k) item indices: greedy near-disjoint signatures over the pair cost ``counts`` (see module doc)."""
    n_items = len(columns)
    col_id = np.unique(np.asarray(columns, dtype=object), return_inverse=True)[1]
    same_col = col_id[:, None] == col_id[None, :]
    used = np.zeros((n_items, n_items))
    item_use = np.zeros(n_items)
    out = np.empty((m, k), dtype=np.int64)
    for i in range(m):
        first = int(np.argmin(item_use + rng.random(n_items)))
        sig = [first]
        while len(sig) < k:
            cost = (counts[sig] + REUSE_COST * used[sig]).sum(axis=0) + rng.random(n_items) * 0.5
            cost[same_col[sig].any(axis=0)] = np.inf
            sig.append(int(np.argmin(cost)))
        s = np.asarray(sig)
        used[np.ix_(s, s)] += 1
        item_use[s] += 1
        out[i] = s
    return out


def make_pair_canaries(
    df: pd.DataFrame,
    schema: Schema,
    m: int,
    rng: np.random.Generator,
    *,
    signature_size: int = SIGNATURE_SIZE,
) -> pd.DataFrame:
    """``m`` canary rows (columns and dtypes of ``df``) whose signatures are rare, near-disjoint item sets."""
    from ehrsynth.dp_verify.canaries import _typed, check_canary_request

    check_canary_request(df, schema, m)
    items, matrix = _items(df, schema, signature_size)
    counts = matrix.T @ matrix
    sigs = choose_signatures(counts, [name for name, _ in items], m, signature_size, rng)
    columns: dict[str, pd.Series] = {}
    for col in schema.columns:
        base = df[col.name]
        if col.kind is Kind.IDENTIFIER:
            from ehrsynth.transforms.table import surrogate_keys

            columns[col.name] = _typed(surrogate_keys(col, m).to_numpy(), base, col.name)
        elif col.kind is Kind.BINARY:
            columns[col.name] = _typed(np.zeros(m, dtype=np.uint8), base, col.name)
        elif col.kind is Kind.CATEGORICAL:
            mode = _mode(df, col.name, list(col.categories or []))
            columns[col.name] = _typed([mode] * m, base, col.name)
        else:
            columns[col.name] = _typed([_median(df, col)] * m, base, col.name)
    out = pd.DataFrame({name: columns[name] for name in df.columns if name in columns})
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise SchemaError(
            f"the table has columns that the schema does not list: {extra[:5]}; use the schema of this table",
            column=str(extra[0]),
        )
    for i, sig in enumerate(sigs):
        for j in sig:
            name, value = items[j]
            if pd.api.types.is_bool_dtype(out[name]):
                value = bool(value)  # a bool column's 1 (setting the int would make the column object)
            out.iloc[i, out.columns.get_loc(name)] = value
    out.index = pd.RangeIndex(m)
    return out


def _median(df: pd.DataFrame, col: Any) -> Any:
    """The base table's value of ``col`` at its median (by the column's numeric scale)."""
    from ehrsynth.transforms.numeric import numeric_values

    scaled = numeric_values(col, df[col.name])
    idx = np.flatnonzero(df[col.name].notna().to_numpy())
    if len(idx) == 0:
        raise SchemaError(f"column {col.name!r} has no values to build canaries from", column=col.name)
    order = idx[np.argsort(scaled[idx], kind="stable")]
    return df[col.name].iloc[order[len(order) // 2]]


def signature_items(on: np.ndarray) -> list[np.ndarray]:
    """Each canary's signature: the columns of its 0/1 ``on`` matrix (canaries × units) that are on in fewer
    than half of the canaries (filler values are on in all of them)."""
    on = np.asarray(on, dtype=bool)
    shared = on.mean(axis=0) >= 0.5
    return [np.flatnonzero(row & ~shared) for row in on]
