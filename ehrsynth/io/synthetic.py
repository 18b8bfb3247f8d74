"""Writing synthetic tables for analysts (CSV, or parquet when pyarrow is installed) with a provenance
sidecar ``<output>.meta.json``, and reading them back with the written dtypes restored exactly.

Sidecar keys: ``format``, ``library_version``, ``created`` (UTC ISO 8601), ``rows``, ``columns``, ``schema``,
``epsilon``/``delta``/``epsilon_spent``/``accountant`` (null when non-private), ``private``, ``identifiers``
(columns replaced by fresh surrogate keys), ``layout`` ('wide' or 'long'), ``output`` (file name, format, sha256),
``pandas`` (each column's dtype and, for categoricals, the released categories), ``csv_formula_neutralised``
with ``csv_neutralised_columns``/``csv_neutralised_headers`` (see :mod:`ehrsynth.io.csv_safety`), and
``release_notes``: what the DP release of the marginals lost, in words (values merged into ``other``, numbers
whose tails were cut, codes left out), the fit's ``DataFidelityWarning`` messages; empty when nothing was.

Parquet keeps every dtype natively (``pd.read_parquet`` is enough); CSV is text, so read it with
:func:`read_synthetic` to get the dtypes back and the formula neutralisation undone.
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
from ehrsynth.io.csv_safety import neutralise_frame, restore_frame
from ehrsynth.io.dtypes import as_released_categories, describe_dtypes, restore_dtypes
from ehrsynth.io.tables import _kind, _require_pyarrow
from ehrsynth.schema import Kind, Schema

SIDECAR_SUFFIX = ".meta.json"
COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz"}
PRIVACY_KEYS = ("epsilon", "delta", "epsilon_spent", "accountant")
# written only when set: "privacy_unit" is "row" when the fit was told rows need not be patients (ehrsynth.dp.unit)
OPTIONAL_PRIVACY_KEYS = ("privacy_unit",)


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def provenance(model: Any) -> dict[str, Any]:
    """What ``MedGAN.sample()``/``synthesize()`` attach as ``frame.attrs["ehrsynth"]``: the privacy record,
    the released schema and the library version (the same keys :func:`read_synthetic` fills)."""
    privacy = model.privacy_.to_dict()
    return {
        "privacy": {**privacy, "private": privacy.get("epsilon") is not None},
        "schema": model.schema_.to_dict(),
        "library_version": __version__,
        "release_notes": list(getattr(model, "release_notes_", ())),
    }


def _write_table(df: pd.DataFrame, p: Path, kind: str, neutralise: bool) -> dict[str, Any]:
    if kind == "parquet":
        _require_pyarrow("writing parquet")
        write_with(p, lambda tmp: df.to_parquet(tmp, index=False))
        return {}
    method = COMPRESSION.get(p.suffix.lower())
    safe, columns, headers = neutralise_frame(df) if neutralise else (df, [], [])

    def write_csv(tmp: Path) -> None:  # the temporary name ends in .tmp: say the compression explicitly
        # RFC 4180 line ends: with "\n" alone, a cell holding a bare "\r" is written unquoted and splits the row
        compression = {"method": method} if method else None
        safe.to_csv(tmp, index=False, compression=compression, lineterminator="\r\n")

    write_with(p, write_csv)
    return {
        "csv_formula_neutralised": bool(neutralise),
        "csv_neutralised_columns": columns,
        "csv_neutralised_headers": headers,
    }


def write_synthetic(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    schema: Schema | None,
    privacy: dict[str, Any] | None,
    layout: str = "wide",
    extra: dict[str, Any] | None = None,
    neutralise_formulas: bool = True,
    release_notes: list[str] | tuple[str, ...] = (),
) -> Path:
    """Write ``df`` atomically to ``path`` and its sidecar next to it; returns the sidecar path.

    CSV text cells and headers a spreadsheet would run as a formula get a leading ``'`` unless
    ``neutralise_formulas=False``; :func:`read_synthetic` removes it again. ``release_notes``: the model's
    ``release_notes_`` (what the DP release lost), so an analyst reading the table sees them.
    """
    p = Path(path)
    kind = _kind(p)
    ensure_parent(p)
    csv_info = _write_table(df, p, kind, neutralise_formulas)
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
        **{key: privacy.get(key) for key in PRIVACY_KEYS},
        **{key: privacy[key] for key in OPTIONAL_PRIVACY_KEYS if privacy.get(key)},
        "identifiers": {name: "fresh surrogate keys; not taken from the input" for name in identifiers},
        "output": {"file": p.name, "format": kind, "sha256": sha256_file(p)},
        "pandas": describe_dtypes(df),
        "release_notes": [str(m) for m in release_notes],
        **csv_info,
        **(extra or {}),
    }
    side = sidecar_path(p)
    write_text_atomic(side, json.dumps(meta, indent=2, allow_nan=False) + "\n")
    return side


def read_synthetic(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a synthetic table written by ehrsynth with the dtypes it was written with (float stays float,
    ``int64`` stays ``int64``, nullable ``Int64``, ``datetime64``); columns the schema calls categorical are
    ``category`` with the released categories (in the schema's order).

    ``result.attrs["ehrsynth"]`` holds the sidecar: ``privacy``, ``schema``, ``library_version``, ``release_notes`` and
    ``sha256_ok`` (False, with a warning, when the file was modified after ehrsynth wrote it).
    """
    p = Path(path)
    side = sidecar_path(p)
    if not p.is_file():
        raise InvalidDataError(f"synthetic table {str(p)!r} does not exist")
    if not side.is_file():
        raise UnsupportedFileError(
            f"{str(p)!r} has no sidecar {side.name!r}; read it with pandas, or keep the sidecar beside it"
        )
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UnsupportedFileError(f"sidecar {side.name!r} is not valid JSON: {exc}") from exc
    expected = meta.get("output", {}).get("sha256")
    sha_ok = expected is None or expected == sha256_file(p)
    if not sha_ok:
        warnings.warn(
            f"{p.name} does not match the sha256 in its sidecar: it was modified after ehrsynth wrote it",
            UserWarning,
            stacklevel=2,
        )
    df = _read_table(p, meta)
    df.attrs["ehrsynth"] = {
        **meta,
        "privacy": {
            "private": meta.get("private", False),
            **{k: meta.get(k) for k in PRIVACY_KEYS},
            **{k: meta[k] for k in OPTIONAL_PRIVACY_KEYS if meta.get(k)},
        },
        "sha256_ok": sha_ok,
    }
    return df


def _read_table(p: Path, meta: dict[str, Any]) -> pd.DataFrame:
    if _kind(p) == "parquet":
        _require_pyarrow("reading parquet")
        df = pd.read_parquet(p)
        return _released_categories(restore_dtypes(df, meta["pandas"], from_text=False), meta)
    df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    if meta.get("csv_formula_neutralised"):
        df = restore_frame(
            df, meta.get("csv_neutralised_columns", []), bool(meta.get("csv_neutralised_headers"))
        )
    if "pandas" in meta:
        return _released_categories(restore_dtypes(df, meta["pandas"], from_text=True), meta)
    if meta.get("schema") is None or meta.get("layout") == "long":
        return df
    schema = Schema.from_dict(meta["schema"])  # sidecars written before the "pandas" key
    for col in schema.columns:
        if col.name in df.columns:
            df[col.name] = _restore(df[col.name], col.kind, col.categories, col.dtype)
    return df


def _released_categories(df: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Columns the schema calls categorical come back as ``category`` with the released categories, unless
    the input held them as numbers (integer codes such as ``{3, 6, 7}`` keep their integer dtype)."""
    if meta.get("schema") is None or meta.get("layout") == "long":
        return df
    for col in Schema.from_dict(meta["schema"]).columns:
        numeric_input = col.dtype is not None and col.dtype.lower().startswith(("int", "uint", "float"))
        if col.kind is Kind.CATEGORICAL and col.name in df.columns and not numeric_input:
            df[col.name] = as_released_categories(df[col.name], list(col.categories or []))
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
