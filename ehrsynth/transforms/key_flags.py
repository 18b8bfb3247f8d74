"""Missing values of identifier columns: modelled as a 0/1 flag column, so their pattern survives.

An identifier is never modelled (its values are replaced by fresh surrogate keys), so a key that is missing in
part of the rows (MIMIC-III ``TRANSFERS.icustay_id``: 68 % missing, exactly the transfers outside an ICU) came
back with a key on every row. The fit adds one 0/1 column ``"<name> (missing)"`` per such key (bool, True where
the key is missing), modelled like any other column, so its rate and its dependence on the rest of the row are
learnt (under DP through the same releases). Sampling blanks the keys where the flag is set and drops the flag.

Which keys get a flag: without DP, identifiers with a missing value; under DP (values are not looked at) the
keys named as never modelled (:func:`~ehrsynth.naming.is_never_modelled_name`) whose dtype is float64 — what
pandas reads an integer key with missing values as (without missing values it would be int64). Text keys
with missing values are not flagged under DP. A declared schema adds no flag.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ehrsynth.naming import is_never_modelled_name
from ehrsynth.schema import Kind, Schema

FLAG_SUFFIX = " (missing)"


def flag_name(key: str) -> str:
    """The flag column that stands for the missing values of identifier ``key``."""
    return f"{key}{FLAG_SUFFIX}"


def dp_flagged(df: pd.DataFrame) -> list[str]:
    """Under DP: the key columns to flag, from names and dtypes only (see the module docstring)."""
    return [
        str(n)
        for n in df.columns
        if is_never_modelled_name(str(n)) and str(df[n].dtype) == "float64" and flag_name(str(n)) not in df
    ]


def exact_flagged(df: pd.DataFrame, schema: Schema) -> list[str]:
    """Without DP: the identifier columns of ``schema`` that have a missing value in ``df``."""
    return [
        c.name
        for c in schema.columns
        if c.kind is Kind.IDENTIFIER and bool(df[c.name].isna().any()) and flag_name(c.name) not in df
    ]


def add_flags(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """A copy of ``df`` with each key's flag column (True where the key is missing) right after the key."""
    keys = [k for k in keys if k in df.columns and flag_name(k) not in df.columns]
    if not keys:
        return df
    out = df.copy()
    for key in keys:
        out.insert(out.columns.get_loc(key) + 1, flag_name(key), out[key].isna().to_numpy())
    return out


def flagged_keys(schema: Schema) -> list[str]:
    """The identifier columns of ``schema`` whose flag column is in it (modelled)."""
    names = set(schema.names)
    return [c.name for c in schema.columns if c.kind is Kind.IDENTIFIER and flag_name(c.name) in names]


def apply_flags(out: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """A sampled table with each flagged key blanked where its flag is set, and the flags dropped."""
    for key in flagged_keys(schema):
        flag = flag_name(key)
        if key in out.columns and flag in out.columns:
            missing = out[flag].fillna(False).astype(bool).to_numpy()
            if missing.any():
                out[key] = blank(out[key], missing)
            out = out.drop(columns=[flag])
    return out


def blank(s: pd.Series, missing: np.ndarray) -> pd.Series:
    """``s`` with ``missing`` rows set missing, in its dtype where it holds missing values (float: NaN,
    nullable extension types: NA, else object with None)."""
    s = s.copy()
    if s.dtype.kind == "f":
        s[missing] = np.nan
    elif isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        s[missing] = pd.NA
    else:
        s = s.astype(object)
        s[missing] = None
    return s
