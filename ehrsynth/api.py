"""``ehrsynth.synthesize``: one call from a real table to a synthetic one.

:func:`fit_sample` is the one synthesize code path: ``ehrsynth.synthesize`` and ``ehrsynth synthesize`` both
call it, so the same seed gives the same rows from Python and from the command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.dp.unit import DEFAULT_PRIVACY_UNIT
from ehrsynth.estimator import MedGAN
from ehrsynth.fidelity import fidelity_summary
from ehrsynth.schema import Schema


def spawn_seeds(random_state: int | None) -> tuple[int | None, int | None]:
    """The (fit, sample) seeds derived from one ``random_state`` (both None when it is None)."""
    if random_state is None:
        return None, None
    fit_seq, sample_seq = np.random.SeedSequence(random_state).spawn(2)
    return int(fit_seq.generate_state(1)[0]), int(sample_seq.generate_state(1)[0])


def fit_sample(
    df: pd.DataFrame,
    *,
    epsilon: float | None = 3.0,
    n_rows: int | None = None,
    schema: Schema | None = None,
    code_columns: Sequence[str] = (),
    schema_is_public: bool = False,
    random_state: int | None = None,
    match_row_sizes: bool = False,
    privacy_unit: str = DEFAULT_PRIVACY_UNIT,
    **model_kwargs: Any,
) -> tuple[MedGAN, pd.DataFrame]:
    """Fit a :class:`~ehrsynth.MedGAN` on ``df`` and sample ``n_rows`` rows; returns (model, rows). The rows
    carry ``attrs["ehrsynth"]``: the privacy record, the schema, and the fidelity summary (each synthetic
    column against its released marginal; a :class:`~ehrsynth.errors.DataFidelityWarning` names the columns
    over the thresholds)."""
    fit_seed, sample_seed = spawn_seeds(random_state)
    model = MedGAN(epsilon=epsilon, random_state=fit_seed, **model_kwargs)
    model.fit(
        df,
        schema=schema,
        code_columns=code_columns,
        schema_is_public=schema_is_public,
        privacy_unit=privacy_unit,
    )
    n = len(df) if n_rows is None else n_rows
    out = model.sample(n, random_state=sample_seed, match_row_sizes=match_row_sizes)
    summary = fidelity_summary(model.schema_, model.as_modelled(out))
    summary.warn()
    out.attrs.setdefault("ehrsynth", {})["fidelity"] = summary.to_dict()
    return model, out


def synthesize(
    df: pd.DataFrame,
    *,
    epsilon: float | None = 3.0,
    n_rows: int | None = None,
    schema: Schema | None = None,
    schema_is_public: bool = False,
    random_state: int | None = None,
    match_row_sizes: bool = False,
    privacy_unit: str = DEFAULT_PRIVACY_UNIT,
    **model_kwargs: Any,
) -> pd.DataFrame:
    """Fit a :class:`~ehrsynth.MedGAN` on ``df`` and return ``n_rows`` synthetic rows (default: as many as
    ``df``) with the same columns, order and dtypes.

    DP is on by default (ε = 3, δ below 1/n; see the README "Privacy guarantee"); ``epsilon=None`` trains
    without DP and gives no guarantee. ``schema``: a declared schema (public; spends no budget; one written
    with ``ehrsynth schema --with-values`` needs ``schema_is_public=True`` under DP). Identifier
    columns get fresh surrogate keys; free-text columns are refused. ``model_kwargs`` go to ``MedGAN``
    (e.g. ``epochs=``). The privacy record, the schema and the fidelity summary (each synthetic column against
    its released marginal) are attached as ``result.attrs["ehrsynth"]``. ``ehrsynth synthesize --seed S`` gives
    the same rows as ``random_state=S`` here. ``match_row_sizes``: keep the released number of codes per row
    (:meth:`MedGAN.sample <ehrsynth.MedGAN.sample>`; engine 'measure'; costs some of the learnt dependence).
    ``privacy_unit``: the guarantee covers one row, so under DP a table whose patient or visit key column
    (``patient_nbr``, ``subject_id``, ``hadm_id``…) repeats is refused by default ('patient'); aggregate to one
    row per patient, or pass 'row' to accept a per-row guarantee (recorded in privacy.json and the release notes).
    """
    _, out = fit_sample(
        df,
        epsilon=epsilon,
        n_rows=n_rows,
        schema=schema,
        schema_is_public=schema_is_public,
        random_state=random_state,
        match_row_sizes=match_row_sizes,
        privacy_unit=privacy_unit,
        **model_kwargs,
    )
    return out
