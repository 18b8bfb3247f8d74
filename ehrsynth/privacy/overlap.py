"""Refuse an audit whose holdout is (largely) the training data.

The audit compares training records with holdout records; a holdout that is the training file, or that shares
most of its rows with it, makes every attack look like its control and the verdict meaninglessly low.

Rule (documented in the report's notes):

- train and holdout with the same sha256 (the same file, or equal DataFrames) are refused;
- *overlap* is the share of holdout rows equal (every column, missing = missing) to some training row, and the
  *chance level* is what the population gives by itself: the share of holdout rows equal to another holdout row,
  scaled to the size of train (``min(1, within * n_train / (n_holdout - 1))``; tables of few 0/1 codes repeat
  rows by chance). The audit is refused when the overlap is at least ``REFUSE_SHARE`` (one half) and exceeds the
  chance level by ``REFUSE_EXCESS``; it proceeds with a note when the overlap exceeds chance by ``NOTE_EXCESS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehrsynth.errors import InvalidDataError

REFUSE_SHARE = 0.5
REFUSE_EXCESS = 0.25
NOTE_EXCESS = 0.05


@dataclass(frozen=True)
class Overlap:
    share: float
    chance: float
    n_holdout: int


def _keys(df: pd.DataFrame) -> np.ndarray:
    return np.asarray(pd.util.hash_pandas_object(df, index=False).to_numpy())


def measure(train: pd.DataFrame, holdout: pd.DataFrame) -> Overlap:
    """Share of holdout rows that equal a training row, and the chance level of such equalities."""
    k_tr, k_ho = _keys(train), _keys(holdout)
    share = float(np.isin(k_ho, k_tr).mean()) if len(k_ho) else 0.0
    _, inverse, counts = np.unique(k_ho, return_inverse=True, return_counts=True)
    within = float((counts[inverse] > 1).mean()) if len(k_ho) else 0.0
    chance = min(1.0, within * len(k_tr) / max(1, len(k_ho) - 1))
    return Overlap(share=share, chance=chance, n_holdout=len(k_ho))


def check_overlap(train: pd.DataFrame, holdout: pd.DataFrame, train_sha: str, holdout_sha: str) -> list[str]:
    """Raise when the holdout is the training data; return notes for a smaller overlap."""
    if train_sha == holdout_sha:
        raise InvalidDataError(
            "train and holdout are the same table (equal sha256); the holdout must be real records that were "
            "never used for training — hold out a random part of the data before synthesizing"
        )
    o = measure(train, holdout)
    found = f"{100 * o.share:.1f}% of the {o.n_holdout} holdout rows equal a training row (chance level here: {100 * o.chance:.1f}%)"
    if o.share >= REFUSE_SHARE and o.share > o.chance + REFUSE_EXCESS:
        raise InvalidDataError(
            f"{found}: the holdout overlaps the training data, which makes every attack look like its control; "
            "use holdout records that were never used for training"
        )
    if o.share > o.chance + NOTE_EXCESS:
        return [
            f"{found}: the holdout may share records with the training data, which makes the audit "
            "under-estimate the risk"
        ]
    return []
