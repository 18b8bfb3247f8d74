"""The sparse design matrix shared by every model in the evaluation, fitted on the real training table.

Encoded columns, in order: binary codes (0/1, missing → 0); numeric columns standardised with the training
mean and standard deviation (missing → 0, i.e. the mean; clipped to ±10), plus a missing-value indicator for
each numeric column that has missing values in train; one indicator per training category of each categorical
column (categories never seen in train encode as all zeros). The same fitted encoding is applied to the test,
synthetic and baseline tables, so every model sees the same feature space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ehrsynth.errors import NotFittedError
from ehrsynth.evaluation.columns import ColumnPlan
from ehrsynth.evaluation.prepare import Prepared

CLIP = 10.0


@dataclass
class Encoder:
    """Design-matrix encoder (``fit`` on the prepared training table, then ``transform`` any table)."""

    plan: ColumnPlan

    def fit(self, train: Prepared) -> Encoder:
        plan = self.plan
        names: list[str] = []
        source: list[str] = []
        names += plan.binary
        source += plan.binary
        with np.errstate(all="ignore"):
            mean = np.nanmean(train.numeric, axis=0) if train.numeric.shape[1] else np.zeros(0)
            std = np.nanstd(train.numeric, axis=0) if train.numeric.shape[1] else np.zeros(0)
        self.mean_ = np.nan_to_num(mean)
        self.scale_ = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        names += plan.numeric
        source += plan.numeric
        has_missing = np.isnan(train.numeric).any(axis=0)
        self.missing_cols_ = np.flatnonzero(has_missing)
        names += [f"{plan.numeric[j]}=<missing>" for j in self.missing_cols_]
        source += [plan.numeric[j] for j in self.missing_cols_]
        self.categories_: dict[str, list[str]] = {}
        for name in plan.categorical:
            values, counts = np.unique(train.categorical[name], return_counts=True)
            order = np.argsort(-counts, kind="stable")
            cats = [str(v) for v in values[order]]
            self.categories_[name] = cats
            names += [f"{name}={c}" for c in cats]
            source += [name] * len(cats)
        self.names_ = names
        self.source_ = np.array(source, dtype=object)
        return self

    def _check(self) -> None:
        if not hasattr(self, "names_"):
            raise NotFittedError("Encoder.transform called before fit")

    def columns_of(self, source: str) -> np.ndarray:
        """Indices of the encoded columns that come from the source column ``source``."""
        self._check()
        return np.flatnonzero(self.source_ == source)

    def transform(self, table: Prepared) -> sp.csc_matrix:
        """The design matrix of ``table`` (CSC, float64)."""
        self._check()
        n = table.n_rows
        rows, cols = np.nonzero(table.binary == 1)  # missing (NaN) and 0 encode as 0; no dense float copy
        binary = sp.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=table.binary.shape)
        blocks: list[sp.spmatrix] = [binary]
        if table.numeric.shape[1]:
            z = (table.numeric - self.mean_) / self.scale_
            miss = np.isnan(z)
            z = np.clip(np.where(miss, 0.0, z), -CLIP, CLIP)
            blocks.append(sp.csc_matrix(z))
            if len(self.missing_cols_):
                blocks.append(sp.csc_matrix(miss[:, self.missing_cols_].astype(np.float64)))
        for name, cats in self.categories_.items():
            codes = pd.Categorical(table.categorical[name], categories=cats).codes
            rows = np.flatnonzero(codes >= 0)
            blocks.append(
                sp.csc_matrix(
                    (np.ones(len(rows)), (rows, codes[rows].astype(np.int64))), shape=(n, len(cats))
                )
            )
        return sp.hstack(blocks, format="csc", dtype=np.float64)
