"""Numeric encodings of the audited tables, fitted on train + holdout only.

Two views of the same columns:

- :meth:`TableEncoder.gower` (or :meth:`TableEncoder.transform`) — rows whose squared Euclidean distance is a Gower-style distance: each column
  contributes a value in [0, 1] (binary: mismatch, i.e. Hamming on 0/1 codes; categorical: mismatch, from a
  one-hot block scaled by 1/sqrt(2); numeric: squared difference after range normalisation, with values outside
  the real range clipped). A missing numeric value is encoded as 0 plus a missing flag, so missing-versus-present
  adds 1. The sum over columns is the distance, so on all-binary data it *is* the Hamming distance. Features
  that are frequently non-zero are kept dense (they go through BLAS matrix products); rare ones stay sparse.
- :meth:`TableEncoder.discrete` and the one-hot view of :meth:`TableEncoder.transform` — every column as a small integer code: binary
  as is, categorical as its category index (plus "other" for values never seen in the real data and "missing"),
  numeric as a quantile bin of the real data (plus "missing"). Used by the density model, singling out and the
  attribute attacks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ehrsynth.errors import InvalidParameterError, NotFittedError
from ehrsynth.privacy.columns import numeric_blocks, real_column, to_float
from ehrsynth.privacy.distances import EncodedMatrix

logger = logging.getLogger(__name__)

_CAT_SCALE = np.float32(1.0 / math.sqrt(2.0))


@dataclass
class ColumnEncoding:
    """What :class:`TableEncoder` learned about one column from the real rows."""

    name: str
    kind: str
    categories: list[Any] = field(default_factory=list)
    lower: float = 0.0
    upper: float = 0.0
    has_missing: bool = False
    bin_edges: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def n_codes(self) -> int:
        """Number of distinct discrete codes of this column."""
        if self.kind == "binary":
            return 2
        if self.kind == "categorical":
            return len(self.categories) + 2  # + other + missing
        return len(self.bin_edges) + 2  # bins + missing

    @property
    def gower_width(self) -> int:
        if self.kind == "binary":
            return 1
        if self.kind == "categorical":
            return len(self.categories) + 2
        return 2 if self.has_missing else 1


class TableEncoder:
    """Encode tables for distances and discrete models; ``fit`` on the real rows only.

    Feature layout of both views: all binary columns first (one feature each, in column order), then every other
    column's block in column order.

    Parameters
    ----------
    kinds:
        Column name → ``binary`` / ``numeric`` / ``categorical`` (see :mod:`ehrsynth.privacy.columns`).
    n_bins:
        Quantile bins of numeric columns in the discrete view.
    dense_min_density:
        Features non-zero in at least this fraction of real rows are kept dense in the Gower view.
    dense_max_features:
        With at most this many features in total, everything is dense.
    """

    def __init__(
        self,
        kinds: Mapping[str, str],
        *,
        n_bins: int = 10,
        dense_min_density: float = 0.05,
        dense_max_features: int = 128,
    ) -> None:
        self.kinds = kinds
        self.n_bins = n_bins
        self.dense_min_density = dense_min_density
        self.dense_max_features = dense_max_features

    # -- fitting ------------------------------------------------------------------------------------------
    def fit(self, real: Sequence[pd.DataFrame], *, missing_anywhere: Sequence[str] = ()) -> TableEncoder:
        """Learn categories, ranges, bins and feature densities from the real tables (train and holdout).

        ``missing_anywhere`` names numeric columns with missing values in any table (including synthetic): they
        get a missing flag so that the layout is the same for all three tables. It changes no kind.
        """
        if self.n_bins < 2:
            raise InvalidParameterError(f"n_bins must be at least 2, found {self.n_bins}")
        flagged = set(missing_anywhere)
        n_real = max(1, sum(len(f) for f in real))
        binary = [n for n, k in self.kinds.items() if k == "binary"]
        prevalence: dict[str, float] = {}
        for cols, block in numeric_blocks(real, binary):
            prevalence.update(zip(cols, np.nanmean(block >= 0.5, axis=0).tolist(), strict=True))
        encodings = [ColumnEncoding(name=n, kind="binary") for n in binary]
        densities: list[np.ndarray] = [np.array([prevalence[n] for n in binary])]
        for name, kind in self.kinds.items():
            if kind == "binary":
                continue
            s = real_column(real, name)
            enc = ColumnEncoding(name=name, kind=kind)
            if kind == "categorical":
                counts = s.value_counts(dropna=True)
                enc.categories = list(counts.index)
                densities.append(np.concatenate([counts.to_numpy() / n_real, [0.0, s.isna().mean()]]))
            else:
                values = to_float(s)
                finite = values[np.isfinite(values)]
                if len(finite):
                    enc.lower, enc.upper = float(finite.min()), float(finite.max())
                    qs = np.quantile(finite, np.linspace(0, 1, self.n_bins + 1)[1:-1])
                    enc.bin_edges = np.unique(qs)
                enc.has_missing = bool(np.isnan(values).any()) or name in flagged
                densities.append(np.ones(enc.gower_width))  # numeric features stay dense
            encodings.append(enc)
        self.columns_ = encodings
        self.column_index_ = {c.name: i for i, c in enumerate(encodings)}
        self.binary_prevalence_ = prevalence
        widths = [c.gower_width for c in encodings]
        self.offsets_ = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self.feature_column_ = np.repeat(np.arange(len(encodings)), widths)
        density = np.concatenate(densities) if densities else np.zeros(0)
        dense: np.ndarray = density >= self.dense_min_density
        if len(density) <= self.dense_max_features:
            dense = np.ones(len(density), dtype=bool)
        self.feature_density_ = density
        self.dense_features_ = np.flatnonzero(dense)
        self.sparse_features_ = np.flatnonzero(~dense)
        logger.debug(
            "encoder: %d columns -> %d features (%d dense, %d sparse)",
            len(encodings),
            len(density),
            len(self.dense_features_),
            len(self.sparse_features_),
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise NotFittedError("TableEncoder is not fitted; call fit(real) first")

    def encodings(self, columns: Sequence[str] | None = None) -> list[ColumnEncoding]:
        self._check_fitted()
        if columns is None:
            return list(self.columns_)
        return [self.columns_[self.column_index_[c]] for c in columns]

    # -- per-column codes ---------------------------------------------------------------------------------
    def codes(self, s: pd.Series, enc: ColumnEncoding) -> np.ndarray:
        """Discrete codes of one column (int32): see the module docstring."""
        if enc.kind == "binary":
            values = s.to_numpy(dtype=np.float64, na_value=0.0)
            return (values >= 0.5).astype(np.int32)
        if enc.kind == "categorical":
            idx = pd.Index(enc.categories).get_indexer(s)
            missing = s.isna().to_numpy()
            idx = np.where(idx < 0, len(enc.categories), idx)  # other
            idx[missing] = len(enc.categories) + 1
            return idx.astype(np.int32)
        values = to_float(s)
        out = np.searchsorted(enc.bin_edges, values, side="right").astype(np.int32)
        out[np.isnan(values)] = len(enc.bin_edges) + 1
        return out

    def discrete(self, df: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
        """Codes of ``columns`` as an (n, len(columns)) int32 matrix."""
        encs = self.encodings(columns)
        out = np.empty((len(df), len(encs)), dtype=np.int32)
        for j, enc in enumerate(encs):
            out[:, j] = self.codes(df[enc.name], enc)
        return out

    # -- both views of a whole table ----------------------------------------------------------------------
    def _binary_block(self, df: pd.DataFrame, names: Sequence[str]) -> sp.csr_matrix:
        parts = []
        for _, values in numeric_blocks([df], list(names), dtype=None):
            on = values > 0 if values.dtype.kind in "biu" else np.nan_to_num(values.astype(np.float32)) >= 0.5
            parts.append(sp.csr_matrix(on, dtype=np.float32))
        if not parts:
            return sp.csr_matrix((len(df), 0), dtype=np.float32)
        return sp.hstack(parts, format="csr") if len(parts) > 1 else parts[0]

    def _gower_block(self, s: pd.Series, enc: ColumnEncoding) -> sp.csr_matrix:
        n = len(s)
        if enc.kind == "categorical":
            codes = self.codes(s, enc)
            data = np.full(n, _CAT_SCALE, dtype=np.float32)
            return sp.csr_matrix((data, codes, np.arange(n + 1)), shape=(n, enc.gower_width))
        values = to_float(s)
        missing = np.isnan(values)
        span = enc.upper - enc.lower
        scaled = np.clip((values - enc.lower) / span, 0.0, 1.0) if span > 0 else np.zeros(n)
        scaled[missing] = 0.0
        cols = [scaled.astype(np.float32)]
        if enc.has_missing:
            cols.append(missing.astype(np.float32))
        return sp.csr_matrix(np.column_stack(cols))

    def _one_hot_block(self, s: pd.Series, enc: ColumnEncoding) -> sp.csr_matrix:
        n = len(s)
        codes = self.codes(s, enc)
        return sp.csr_matrix((np.ones(n, dtype=np.float32), codes, np.arange(n + 1)), shape=(n, enc.n_codes))

    def one_hot_layout(self) -> tuple[np.ndarray, np.ndarray]:
        """``(bernoulli, block)`` of the one-hot view: whether each feature is a Bernoulli (binary) column, and
        the index of the column it belongs to."""
        encs = self.encodings()
        widths = [1 if e.kind == "binary" else e.n_codes for e in encs]
        bernoulli = np.concatenate(
            [np.full(w, e.kind == "binary") for e, w in zip(encs, widths, strict=True)]
        )
        return bernoulli, np.repeat(np.arange(len(encs)), widths)

    def transform(
        self, df: pd.DataFrame, *, one_hot: bool = True
    ) -> tuple[EncodedMatrix, sp.csr_matrix | None]:
        """The Gower view (split dense/sparse, for distances) and the one-hot view (for the density model) of a
        whole table. The binary columns, usually most of the width, are converted once for both."""
        encs = self.encodings()
        binary = [e.name for e in encs if e.kind == "binary"]
        others = [e for e in encs if e.kind != "binary"]
        bin_block = self._binary_block(df, binary)
        gower_parts = [bin_block] + [self._gower_block(df[e.name], e) for e in others]
        full = sp.hstack(gower_parts, format="csr", dtype=np.float32) if others else bin_block
        encoded = EncodedMatrix.from_sparse(full, self.dense_features_, self.sparse_features_)
        if not one_hot:
            return encoded, None
        oh_parts = [bin_block] + [self._one_hot_block(df[e.name], e) for e in others]
        oh = sp.hstack(oh_parts, format="csr", dtype=np.float32) if others else bin_block
        return encoded, oh

    def gower(self, df: pd.DataFrame, columns: Sequence[str] | None = None) -> EncodedMatrix:
        """The Gower view of ``columns`` (default: all), ready for :mod:`ehrsynth.privacy.distances`."""
        if columns is None:
            return self.transform(df, one_hot=False)[0]
        encs = self.encodings(columns)
        binary = [e.name for e in encs if e.kind == "binary"]
        others = [e for e in encs if e.kind != "binary"]
        parts = [self._binary_block(df, binary)] + [self._gower_block(df[e.name], e) for e in others]
        full = sp.hstack(parts, format="csr", dtype=np.float32)
        ordered = [self.column_index_[n] for n in binary] + [self.column_index_[e.name] for e in others]
        positions = np.concatenate(
            [np.arange(self.offsets_[i], self.offsets_[i + 1]) for i in ordered] or [np.zeros(0, np.int64)]
        )
        is_dense = np.zeros(len(self.feature_column_), dtype=bool)
        is_dense[self.dense_features_] = True
        local = is_dense[positions] | (len(positions) <= self.dense_max_features)
        return EncodedMatrix.from_sparse(full, np.flatnonzero(local), np.flatnonzero(~local))
