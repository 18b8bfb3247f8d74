"""TableTransformer: a DataFrame ⇄ float matrix, column by column, driven only by the schema.

The transformer reads nothing from the data beyond what it encodes: category sets and bounds come from the
schema (declared, inferred, or DP-discovered), so building it spends no privacy budget.

Encoding per kind (docs/design.md §2): binary → one unit; count/continuous/datetime → one unit min–max scaled to
[0, 1] with the schema's bounds (values outside are clipped); categorical → a one-hot block (plus a final
"missing" unit when nullable); a nullable non-categorical column gets an extra missing-flag unit.
Identifier columns are not encoded; decoding writes fresh surrogate keys for them.

Decoding samples binary and missing units (Bernoulli) and categorical blocks (categorical draw) from the
decoder's probabilities when given a random generator, or takes the most likely value without one; for exact
0/1 input both give the same result, so encode → decode is an exact round trip.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import InvalidDataError, SchemaError
from ehrsynth.schema import Column, Kind, Schema, _to_python
from ehrsynth.transforms.key_flags import blank
from ehrsynth.transforms.layout import Span, SpanKind
from ehrsynth.transforms.numeric import DEFAULT_BINS, QuantileCodec, numeric_values, uniform_cdf


def _cat_key(value: Any) -> tuple[str, Any]:
    """Normalise a category so 1, 1.0 and np.int64(1) match, and '1' does not."""
    v = _to_python(value)
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, float)):
        return ("n", float(v))
    return ("s", str(v))


class TableTransformer:
    """Encode/decode a table according to a :class:`~ehrsynth.schema.Schema`."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.layout: list[Span] = []
        self._cat_index: dict[str, dict[tuple[str, Any], int]] = {}
        self.codecs: dict[str, QuantileCodec] = {}
        pos = 0
        for col in schema.modelled:
            if col.kind is Kind.CATEGORICAL:
                if not col.categories:
                    raise SchemaError(
                        f"categorical column {col.name!r} has no categories; declare them or let fit discover "
                        "them",
                        column=col.name,
                    )
                cats = col.categories
                width = len(cats) + (1 if col.nullable else 0)
                self.layout.append(Span(col.name, SpanKind.SOFTMAX, pos, width))
                self._cat_index[col.name] = {_cat_key(c): i for i, c in enumerate(cats)}
                pos += width
                continue
            if col.kind is Kind.BINARY:
                self.layout.append(Span(col.name, SpanKind.BINARY, pos, 1))
                pos += 1
                if col.nullable:
                    self.layout.append(Span(col.name, SpanKind.MISSING, pos, 1))
                    pos += 1
                continue
            codec = numeric_codec(col)
            self.codecs[col.name] = codec
            width = codec.n_bins + (1 if col.nullable else 0)
            self.layout.append(Span(col.name, SpanKind.SOFTMAX, pos, width))
            self.layout.append(Span(col.name, SpanKind.SCALED, pos + width, 1))
            pos += width + 1
        self.width = pos

    def plain_binary_columns(self) -> list[str]:
        """Names of the 0/1 columns without a missing flag (one unit each, the unit is the probability of 1)."""
        flagged = {s.column for s in self.layout if s.kind is SpanKind.MISSING}
        return [s.column for s in self.layout if s.kind is SpanKind.BINARY and s.column not in flagged]

    def unit_index(self, columns: list[str]) -> np.ndarray:
        """Positions in the encoded matrix of the BINARY units of ``columns``."""
        start = {s.column: s.start for s in self.layout if s.kind is SpanKind.BINARY}
        return np.asarray([start[c] for c in columns], dtype=np.int64)

    def marginal_targets(self) -> tuple[np.ndarray, np.ndarray]:
        """Target 1-way frequencies of the probability units from the schema's released marginals.

        Returns ``(target, known)``, both of length ``width``: for a sigmoid unit the share of rows where it is
        1, for a softmax block its distribution (summing to 1); ``known`` is False where the schema carries no
        marginal (and on position units), so calibration leaves those units alone.
        """
        target = np.zeros(self.width)
        known = np.zeros(self.width, dtype=bool)
        for span in self.layout:
            col = self.schema[span.column]
            miss = float(col.missing_rate or 0.0) if col.nullable else 0.0
            a, b = span.start, span.stop
            if span.kind is SpanKind.MISSING:
                if col.missing_rate is not None:
                    target[a], known[a] = miss, True
            elif span.kind is SpanKind.BINARY:
                if col.frequencies is not None:  # share of 1s among the non-missing values
                    target[a], known[a] = float(col.frequencies[0]), True
            elif span.kind is SpanKind.SOFTMAX:
                if col.kind is Kind.CATEGORICAL:
                    if col.frequencies is None:
                        continue
                    dist = np.asarray(col.frequencies, dtype=np.float64)
                else:
                    if col.knots is None:
                        continue
                    dist = self.codecs[col.name].bin_mass.copy()
                dist = dist / dist.sum() if dist.sum() > 0 else np.full(len(dist), 1.0 / max(len(dist), 1))
                if col.nullable:
                    dist = np.append(dist * (1.0 - miss), miss)
                target[a:b], known[a:b] = dist, True
        return target, known

    # -- encode -----------------------------------------------------------------------------------------
    def encode(self, df: pd.DataFrame, *, dtype: Any = np.float32) -> np.ndarray:
        """Encode ``df`` (already validated against the schema) into an ``(n, width)`` matrix."""
        out = np.zeros((len(df), self.width), dtype=dtype)
        for span in self.layout:
            col = self.schema[span.column]
            s = df[col.name]
            missing = s.isna().to_numpy()
            if span.kind is SpanKind.MISSING:
                out[:, span.start] = missing
            elif span.kind is SpanKind.BINARY:
                out[:, span.start] = np.where(missing, 0.0, s.to_numpy(dtype="float64", na_value=0.0) != 0)
            elif span.kind is SpanKind.SCALED:
                continue  # written together with its bins
            elif col.kind is Kind.CATEGORICAL:
                out[:, span.start : span.stop] = self._encode_categorical(col, s, missing, span.width)
            else:
                block, position = self._encode_numeric(col, s, missing, span.width)
                out[:, span.start : span.stop] = block
                out[:, span.stop] = position
        return out

    def _encode_categorical(self, col: Column, s: pd.Series, missing: np.ndarray, width: int) -> np.ndarray:
        values = s.to_numpy(dtype=object)
        codes = _lookup(self._cat_index[col.name], values, missing)
        codes = self._absorb(col, codes, missing, values)
        block = np.zeros((len(s), width), dtype=np.float64)
        block[np.arange(len(s)), codes] = 1.0
        return block

    def _absorb(self, col: Column, codes: np.ndarray, missing: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Cell of every row: values outside the domain go to the 'other' category, else to missing (when
        nullable), else to the most frequent category; missing values of a non-nullable column likewise."""
        cats = list(col.categories or [])
        other = cats.index(col.other) if col.other is not None and col.other in cats else None
        freq = col.frequencies
        mode = int(np.argmax(freq)) if freq else 0
        unknown = (codes < 0) & ~missing
        if unknown.any() and other is None and not col.nullable and self._strict_domain(col):
            example = values[np.flatnonzero(unknown)[0]]
            raise InvalidDataError(
                f"column {col.name!r} has value {example!r} outside its categories; add it to the schema",
                column=col.name,
            )
        codes = codes.copy()
        codes[unknown] = other if other is not None else (len(cats) if col.nullable else mode)
        codes[missing] = len(cats) if col.nullable else mode
        return codes

    @staticmethod
    def _strict_domain(col: Column) -> bool:
        """Declared domains are strict; released ones (carrying a marginal) absorb what they do not list."""
        return not col.has_marginal

    def _encode_numeric(
        self, col: Column, s: pd.Series, missing: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        codec = self.codecs[col.name]
        x = self._raw_values(col, s)
        bad = missing | ~np.isfinite(x)
        bins, position = codec.encode(np.where(bad, codec.knots[0], x))
        if bad.any():  # missing: the missing cell when nullable, else the median's bin (documented)
            mid_bin, mid_pos = codec.encode(np.asarray([self._median(codec)]))
            bins[bad] = width - 1 if col.nullable else mid_bin[0]
            position[bad] = 0.5 if col.nullable else mid_pos[0]
        block = np.zeros((len(s), width), dtype=np.float64)
        block[np.arange(len(s)), bins] = 1.0
        return block, position

    @staticmethod
    def _median(codec: QuantileCodec) -> float:
        return float(np.interp(0.5, codec.cdf, codec.knots))

    @staticmethod
    def _raw_values(col: Column, s: pd.Series) -> np.ndarray:
        return numeric_values(col, s)

    # -- decode -----------------------------------------------------------------------------------------
    def position_quantiles(self, probs: np.ndarray, rng: np.random.Generator) -> dict[str, list[list[float]]]:
        """Per numeric column and bin, the quantiles (at :data:`POSITION_GRID`) of the positions the generator
        puts inside that bin, from activated decoder outputs ``probs``; decoding maps positions through them so
        that values are spread inside each bin as the released CDF says, whatever the generator learnt
        (post-processing: free). Bins drawn fewer than :data:`MIN_POSITION_ROWS` times keep the identity."""
        out: dict[str, list[list[float]]] = {}
        for span in self.layout:
            col = self.schema[span.column]
            if span.kind is not SpanKind.SOFTMAX or col.kind is Kind.CATEGORICAL:
                continue
            n_bins = self.codecs[col.name].n_bins
            cells = _draw_cells(probs[:, span.start : span.stop], rng)
            u = probs[:, span.stop]
            table = []
            for b in range(n_bins):
                mine = u[cells == b]
                q = np.quantile(mine, POSITION_GRID) if len(mine) >= MIN_POSITION_ROWS else POSITION_GRID
                table.append(np.maximum.accumulate(q).tolist())
            out[col.name] = table
        return out

    def decode(
        self,
        X: np.ndarray,
        *,
        random_state: np.random.Generator | None = None,
        position_maps: dict[str, list[list[float]]] | None = None,
    ) -> pd.DataFrame:
        """Decode an ``(n, width)`` matrix of probabilities / scaled values into a typed DataFrame.

        ``random_state``: sample binary, missing and categorical units from their probabilities; ``None``
        takes the most likely value (threshold 0.5 / argmax). ``position_maps``: per numeric column and bin,
        the generator's position quantiles (:meth:`position_quantiles`) to make positions uniform in each bin.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.width:
            raise InvalidDataError(f"expected a matrix with {self.width} columns, found shape {X.shape}")
        n = X.shape[0]
        # every binary and missing unit in one vectorised draw
        unit_spans = [s for s in self.layout if s.kind in (SpanKind.BINARY, SpanKind.MISSING)]
        unit_idx = np.asarray([s.start for s in unit_spans], dtype=np.int64)
        units = self.bernoulli(X, unit_idx, random_state) if len(unit_idx) else np.zeros((n, 0), bool)
        position = {(s.column, s.kind): i for i, s in enumerate(unit_spans)}
        columns: dict[str, pd.Series | np.ndarray] = {}
        block_names = [
            s.column
            for s in self.layout
            if s.kind is SpanKind.BINARY and (s.column, SpanKind.MISSING) not in position
        ]
        blocks = self._binary_blocks(
            units, [position[(c, SpanKind.BINARY)] for c in block_names], block_names
        )
        done = set(block_names)
        for span in self.layout:
            if (
                span.kind in (SpanKind.MISSING, SpanKind.SCALED)
                or span.column in done
                or span.column in columns
            ):
                continue
            col = self.schema[span.column]
            if span.kind is SpanKind.SOFTMAX:
                cells = _draw_cells(X[:, span.start : span.stop], random_state)
                if col.kind is Kind.CATEGORICAL:
                    columns[col.name] = self._decode_categorical(col, cells)
                else:
                    maps = (position_maps or {}).get(col.name)
                    columns[col.name] = self._decode_numeric(col, cells, X[:, span.stop], maps)
                continue
            values = units[:, position[(col.name, SpanKind.BINARY)]].astype(np.float64)
            key = (col.name, SpanKind.MISSING)
            missing = units[:, position[key]] if key in position else np.zeros(n, dtype=bool)
            columns[col.name] = self._restore_numeric(col, values, missing)
        for col in self.schema.columns:
            if col.kind is Kind.IDENTIFIER:
                columns[col.name] = surrogate_keys(col, n)
        rest = pd.DataFrame({name: pd.Series(v, name=name) for name, v in columns.items()}, copy=False)
        if not blocks:
            return rest[self.schema.names]
        out = pd.concat([*blocks, rest] if columns else blocks, axis=1, copy=False)
        return out if list(out.columns) == self.schema.names else out[self.schema.names]

    def _decode_numeric(
        self, col: Column, cells: np.ndarray, position: np.ndarray, maps: list[list[float]] | None
    ) -> pd.Series:
        codec = self.codecs[col.name]
        missing = cells >= codec.n_bins
        bins = np.minimum(cells, codec.n_bins - 1)
        u = position.astype(np.float64)
        if maps is not None:  # the generator's position quantiles in each bin -> uniform positions
            for b in np.unique(bins):
                mine = bins == b
                u[mine] = np.interp(u[mine], maps[b], POSITION_GRID)
        values = codec.decode(bins, u)
        return self._restore_numeric(col, values, missing)

    def _binary_blocks(self, units: np.ndarray, idx: list[int], names: list[str]) -> list[pd.DataFrame]:
        """The plain 0/1 columns as one 2-D block per output dtype (one cast per block, not per column)."""
        by_dtype: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            by_dtype.setdefault(self.schema[name].dtype or "uint8", []).append(i)
        blocks = []
        for dtype, members in by_dtype.items():
            # pandas keeps a 2-D block as (columns, rows): build it in that layout so the cast is contiguous
            bits = np.ascontiguousarray(units.T[[idx[i] for i in members]]).view(np.uint8)
            labels = [names[i] for i in members]
            try:
                block = bits.astype(np.dtype(dtype))
            except TypeError:  # a pandas extension dtype (category, Int64...): cast in pandas
                block = bits
            frame = pd.DataFrame(block.T, columns=labels, copy=False)
            if frame.dtypes.iloc[0] != dtype:
                # a dtype that cannot hold 0/1 (e.g. a category without them) keeps uint8
                with contextlib.suppress(TypeError, ValueError):
                    frame = frame.astype(dtype)
            blocks.append(frame)
        return blocks

    @staticmethod
    def bernoulli(X: np.ndarray, idx: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Draw the units ``X[:, idx]`` as Bernoulli variables (``rng=None``: threshold at 0.5)."""
        # torch: a contiguous gather and vectorised float32 uniforms, ~4x faster than numpy's fancy index
        # and uniforms here; seeded from ``rng`` so a random_state still fixes the output.
        import torch

        probs = torch.from_numpy(np.ascontiguousarray(X)).index_select(1, torch.from_numpy(idx))
        if rng is None:
            return (probs >= 0.5).numpy()
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        return (torch.rand(probs.shape, generator=gen, dtype=probs.dtype) < probs).numpy()

    @staticmethod
    def _decode_categorical(col: Column, cells: np.ndarray) -> pd.Series:
        cats = list(col.categories or [])
        missing = cells >= len(cats)
        values = np.empty(len(cells), dtype=object)
        values[~missing] = [cats[i] for i in cells[~missing]]
        values[missing] = None
        return _restore_dtype(col, pd.Series(values, dtype=object), missing)

    def _restore_numeric(self, col: Column, values: np.ndarray, missing: np.ndarray) -> pd.Series:
        if col.kind is Kind.DATETIME:
            unit = "D" if col.time_unit == "D" else "s"
            seconds = np.round(values * (86400.0 if unit == "s" else 1.0))
            ts = pd.to_datetime(seconds, unit=unit, origin="unix")
            out = pd.Series(ts).where(~missing)
            dtype = col.dtype or "datetime64[ns]"
            if dtype.startswith("datetime64"):
                return out.astype(dtype)
            fmt = "%Y-%m-%d" if unit == "D" else "%Y-%m-%d %H:%M:%S"
            return out.dt.strftime(fmt).astype(object).where(~missing, None)
        series = pd.Series(values, dtype="float64")
        series[missing] = np.nan
        return _restore_dtype(col, series, missing)


POSITION_GRID = np.linspace(0.0, 1.0, 17)
MIN_POSITION_ROWS = 50


def _lookup(index: dict[tuple[str, Any], int], values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Category index of each value (-1: not a category or missing); one dict lookup per distinct value."""
    codes = np.full(len(values), -1, dtype=np.int64)
    present = np.flatnonzero(~missing)
    if len(present) == 0:
        return codes
    inverse, uniq = pd.factorize(pd.Series(values[present], dtype=object), use_na_sentinel=False)
    mapped = np.asarray([index.get(_cat_key(u), -1) for u in uniq], dtype=np.int64)
    codes[present] = mapped[inverse]
    return codes


def category_codes(categories: list[Any], s: pd.Series) -> np.ndarray:
    """Index of each value of ``s`` among ``categories`` (-1 when absent or missing)."""
    index = {_cat_key(c): i for i, c in enumerate(categories)}
    return _lookup(index, s.to_numpy(dtype=object), s.isna().to_numpy())


def _draw_cells(probs: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """One cell per row of a softmax block: a categorical draw (``rng``) or the most likely cell."""
    if rng is None:
        return np.asarray(probs.argmax(axis=1), dtype=np.int64)
    p = np.clip(probs, 0.0, None)
    totals = p.sum(axis=1, keepdims=True)
    p = np.where(totals > 0, p / np.where(totals > 0, totals, 1.0), 1.0 / p.shape[1])
    cdf = np.cumsum(p, axis=1)
    idx = (rng.random((p.shape[0], 1)) > cdf).sum(axis=1)
    return np.minimum(idx, p.shape[1] - 1).astype(np.int64)


def numeric_codec(col: Column) -> QuantileCodec:
    """The quantile codec of a numeric column: its released CDF, else a flat one over its declared bounds."""
    integer = (
        col.kind is Kind.COUNT or col.decimals == 0 or (col.kind is Kind.DATETIME and col.time_unit == "D")
    )
    decimals = 0 if integer else col.decimals
    if col.knots is not None and col.cdf is not None:
        return QuantileCodec(col.knots, col.cdf, n_bins=DEFAULT_BINS, decimals=decimals, name=col.name)
    if col.lower is None or col.upper is None:
        raise SchemaError(
            f"{col.kind.value} column {col.name!r} has no bounds; declare 'lower'/'upper' or let fit discover them",
            column=col.name,
        )
    knots, cdf = uniform_cdf(col.lower, col.upper, integer=integer)
    return QuantileCodec(knots, cdf, n_bins=DEFAULT_BINS, decimals=decimals, name=col.name)


def _restore_dtype(col: Column, series: pd.Series, missing: np.ndarray) -> pd.Series:
    """Cast decoded values to the column's original pandas dtype when it can hold them."""
    dtype = col.dtype
    if dtype is None:
        return series
    try:
        if dtype in ("object", "str") or dtype.startswith("string"):
            if col.kind is Kind.CATEGORICAL:
                return series.astype(dtype) if dtype.startswith("string") else series
            return series.astype(object).where(~missing, None)
        if dtype == "category":
            return series.astype(pd.CategoricalDtype(categories=col.categories))
        if dtype == "bool":
            return series.astype("boolean" if missing.any() else "bool")
        if dtype.startswith(("int", "uint")) and missing.any():
            # numpy integer dtypes cannot hold missing values: use pandas' nullable integers then
            nullable = "UInt" + dtype[4:] if dtype.startswith("uint") else "Int" + dtype[3:]
            return series.astype(nullable)
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


SURROGATE_OFFSET = 900_000_000_000


def surrogate_ids(n: int) -> np.ndarray:
    """Integer surrogate keys ``900000000001, 900000000002, …``: fresh (never read from the data) and far
    above ordinary record numbers, so they do not coincide with real ids by accident."""
    return np.arange(SURROGATE_OFFSET + 1, SURROGATE_OFFSET + n + 1, dtype=np.int64)


def renumber_identifiers(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """``df`` with every identifier column of ``schema`` given fresh keys 1..n (after rows from several
    decodes were joined, each numbered its own)."""
    for col in schema.columns:
        if col.kind is Kind.IDENTIFIER and col.name in df.columns:
            missing = df[col.name].isna().to_numpy()  # a flagged key's missing rows stay missing
            keys = surrogate_keys(col, len(df))
            keys.index = df.index
            df[col.name] = keys
            if missing.any():
                df[col.name] = blank(df[col.name], missing)
    return df


def surrogate_keys(col: Column, n: int) -> pd.Series:
    """Fresh keys for an identifier column: :func:`surrogate_ids` for integer and float64 columns (a key with
    missing values is read as float64), 1..n for small integer and float types, ``SYN0000001``… otherwise."""
    dtype = col.dtype or "object"
    if dtype.lower().startswith(("int", "uint")) and dtype not in (
        "int8",
        "int16",
        "int32",
        "uint8",
        "uint16",
        "uint32",
    ):
        return pd.Series(surrogate_ids(n), dtype=dtype)
    if dtype.lower().startswith(("int", "uint")):
        return pd.Series(np.arange(1, n + 1), dtype=dtype)
    if dtype == "float64":  # an integer key with missing values, as pandas reads it: keep it a number
        return pd.Series(surrogate_ids(n), dtype=dtype)
    if dtype == "float32":  # exact integers only up to 2**24: plain 1..n
        return pd.Series(np.arange(1, n + 1), dtype=dtype)
    return pd.Series([f"SYN{i:07d}" for i in range(1, n + 1)], dtype=object)
