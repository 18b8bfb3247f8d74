"""``ehrsynth.synthesize``: one call from a real table to a synthetic one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.estimator import MedGAN
from ehrsynth.fidelity import fidelity_summary
from ehrsynth.schema import Schema


def synthesize(
    df: pd.DataFrame,
    *,
    epsilon: float | None = 3.0,
    n_rows: int | None = None,
    schema: Schema | None = None,
    random_state: int | None = None,
    **model_kwargs: Any,
) -> pd.DataFrame:
    """Fit a :class:`~ehrsynth.MedGAN` on ``df`` and return ``n_rows`` synthetic rows (default: as many as
    ``df``) with the same columns, order and dtypes.

    DP is on by default (ε = 3, δ below 1/n; see the README "Privacy guarantee"); ``epsilon=None`` trains
    without DP and gives no guarantee. ``schema``: a declared schema (public; spends no budget). Identifier
    columns get fresh surrogate keys; free-text columns are refused. ``model_kwargs`` go to ``MedGAN``
    (e.g. ``epochs=``). The privacy record, the schema and the fidelity summary (each synthetic column against
    its released marginal; a :class:`~ehrsynth.errors.DataFidelityWarning` names columns over the thresholds)
    are attached as ``result.attrs["ehrsynth"]``.
    """
    fit_seed, sample_seed = (
        int(s.generate_state(1)[0]) for s in np.random.SeedSequence(random_state).spawn(2)
    )
    if random_state is None:
        fit_seed = sample_seed = None  # type: ignore[assignment]
    model = MedGAN(epsilon=epsilon, random_state=fit_seed, **model_kwargs).fit(df, schema=schema)
    out = model.sample(len(df) if n_rows is None else n_rows, random_state=sample_seed)
    summary = fidelity_summary(model.schema_, out)
    summary.warn()
    out.attrs["ehrsynth"] = {
        "privacy": model.privacy_.to_dict(),
        "schema": model.schema_.to_dict(),
        "fidelity": summary.to_dict(),
    }
    return out
