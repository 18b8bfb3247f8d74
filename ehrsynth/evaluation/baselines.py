"""Reference tables that bracket a synthesizer's scores.

- :func:`independent_marginals` — the **floor**: every column drawn independently from its training
  distribution (perfect one-column statistics, no dependence at all). Not differentially private: it reads the
  training table freely (a DP variant adds noise to the histograms; that is a benchmark baseline).
- :func:`column_shuffled` — each column permuted independently: exactly the training marginals, dependence
  destroyed. The evaluation must penalise it; tests and benchmarks use it as a negative control.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehrsynth.errors import InvalidDataError, InvalidParameterError

RandomState = int | np.random.Generator | None


def as_generator(random_state: RandomState) -> np.random.Generator:
    """A NumPy Generator from a seed, a Generator (used as is) or None (fresh OS entropy)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (
        isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)
    ):
        if random_state is not None and random_state < 0:
            raise InvalidParameterError(f"random_state must be a non-negative integer, found {random_state}")
        return np.random.default_rng(random_state)
    raise InvalidParameterError(
        f"random_state must be an int, a numpy.random.Generator or None, found {type(random_state).__name__}"
    )


def _check(train: pd.DataFrame) -> None:
    if not isinstance(train, pd.DataFrame):
        raise InvalidDataError(f"train must be a pandas DataFrame, found {type(train).__name__}")
    if len(train) == 0 or train.shape[1] == 0:
        raise InvalidDataError(
            f"the training table is empty ({len(train)} rows x {train.shape[1]} columns); it needs rows"
        )


def independent_marginals(train: pd.DataFrame, n: int, random_state: RandomState = 0) -> pd.DataFrame:
    """``n`` rows whose columns are drawn independently, with replacement, from the training columns.

    Dtypes and missing-value rates are kept; every dependence between columns is lost.
    """
    _check(train)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidParameterError(f"n must be a positive integer number of rows, found {n!r}")
    rng = as_generator(random_state)
    columns = {}
    for name in train.columns:
        idx = rng.integers(0, len(train), size=int(n))
        columns[name] = train[name].iloc[idx].reset_index(drop=True)
    return pd.DataFrame(columns, columns=train.columns)


def column_shuffled(train: pd.DataFrame, random_state: RandomState = 0) -> pd.DataFrame:
    """A copy of ``train`` with each column permuted independently (marginals kept, dependence destroyed)."""
    _check(train)
    rng = as_generator(random_state)
    columns = {}
    for name in train.columns:
        idx = rng.permutation(len(train))
        columns[name] = train[name].iloc[idx].reset_index(drop=True)
    return pd.DataFrame(columns, columns=train.columns)
