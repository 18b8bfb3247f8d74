"""Writing synthetic tables for analysts (CSV, or parquet when pyarrow is installed) with a provenance
sidecar ``<output>.meta.json``, and reading them back with dtypes restored.

Sidecar keys: ``format``, ``library_version``, ``created`` (UTC ISO 8601), ``rows``, ``columns``, ``schema``,
``epsilon``/``delta``/``epsilon_spent``/``accountant`` (null when non-private), ``private``, ``identifiers``
(columns replaced by fresh surrogate keys), ``layout`` ('wide' or 'long'), ``output`` (file name, format, sha256).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ehrsynth._version import __version__
from ehrsynth.errors import InvalidDataError, UnsupportedFileError
from ehrsynth.io.atomic import ensure_parent, sha256_file, write_text_atomic, write_with
from ehrsynth.io.tables import _kind, _require_pyarrow
from ehrsynth.schema import Kind, Schema

SIDECAR_SUFFIX = ".meta.json"
COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz"}


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def write_synthetic(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    schema: Schema | None,
    privacy: dict[str, Any] | None,
    layout: str = "wide",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``df`` atomically to ``path`` and its sidecar next to it; returns the sidecar path."""
    p = Path(path)
    kind = _kind(p)
    ensure_parent(p)
    if kind == "parquet":
        _require_pyarrow("writing parquet")
        write_with(p, lambda tmp: df.to_parquet(tmp, index=False))
    else:
        method = COMPRESSION.get(p.suffix.lower())

        def write_csv(tmp: Path) -> None:  # the temporary name ends in .tmp: say the compression explicitly
            df.to_csv(tmp, index=False, compression={"method": method} if method else None)

        write_with(p, write_csv)
    privacy = privacy or {}
    identifiers = [c.name for c in schema.columns if c.kind is Kind.IDENTIFIER] if schema else []
    meta = {
        "format": "ehrsynth-synthetic",
        "library_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "rows": len(df),
        "columns": [str(c) for c in df.columns],
        "layout": layout,
        "schema": schema.to_dict() if schema else None,
        "private": privacy.get("epsilon") is not None,
        "epsilon": privacy.get("epsilon"),
        "delta": privacy.get("delta"),
        "epsilon_spent": privacy.get("epsilon_spent"),
        "accountant": privacy.get("accountant"),
        "identifiers": {name: "fresh surrogate keys; not taken from the input" for name in identifiers},
        "output": {"file": p.name, "format": kind, "sha256": sha256_file(p)},
        **(extra or {}),
    }
    side = sidecar_path(p)
    write_text_atomic(side, json.dumps(meta, indent=2, allow_nan=False) + "\n")
    return side


def read_synthetic(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a synthetic table written by ehrsynth, restoring dtypes from its sidecar: categoricals as pandas
    ``category`` with the schema's categories, integers as (nullable) integers, dates as ``datetime64``."""
    p = Path(path)
    side = sidecar_path(p)
    if not p.is_file():
        raise InvalidDataError(f"synthetic table {str(p)!r} does not exist")
    if not side.is_file():
        raise UnsupportedFileError(
            f"{str(p)!r} has no sidecar {side.name!r}; read it with pandas, or keep the sidecar beside it"
        )
    meta = json.loads(side.read_text(encoding="utf-8"))
    if meta.get("output", {}).get("sha256") not in (None, sha256_file(p)):
        warnings.warn(
            f"{p.name} does not match the sha256 in its sidecar: it was modified after ehrsynth wrote it",
            UserWarning,
            stacklevel=2,
        )
    kind = _kind(p)
    if kind == "parquet":
        _require_pyarrow("reading parquet")
        df = pd.read_parquet(p)
    else:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    if meta.get("schema") is None or meta.get("layout") == "long":
        return df
    schema = Schema.from_dict(meta["schema"])
    for col in schema.columns:
        if col.name in df.columns:
            df[col.name] = _restore(df[col.name], col.kind, col.categories, col.dtype)
    return df


def _restore(s: pd.Series, kind: Kind, categories: list[Any] | None, dtype: str | None) -> pd.Series:
    if kind is Kind.CATEGORICAL:
        cats = list(categories or [])
        as_text = s.astype("string")
        mapping = {str(c): c for c in cats}
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in cats):
            numeric = pd.to_numeric(s, errors="coerce")
            mapping_num = {float(c): c for c in cats}
            values = numeric.map(lambda v: mapping_num.get(float(v)) if pd.notna(v) else None)
        else:
            values = as_text.map(lambda v: mapping.get(v) if pd.notna(v) else None)
        return pd.Series(pd.Categorical(values, categories=cats), index=s.index)
    if kind is Kind.DATETIME:
        return pd.to_datetime(s, errors="coerce")
    if kind in (Kind.BINARY, Kind.COUNT) or (dtype or "").lower().startswith(("int", "uint")):
        numeric = pd.to_numeric(s, errors="coerce")
        return numeric.round().astype("Int64")
    if kind is Kind.CONTINUOUS:
        return pd.to_numeric(s, errors="coerce").astype("float64")
    if kind is Kind.IDENTIFIER and (dtype or "").lower().startswith(("int", "uint")):
        return pd.to_numeric(s, errors="coerce").astype("Int64")
    return s.astype(object).where(s.notna(), None) if dtype == "object" else s
