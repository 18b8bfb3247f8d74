"""``audit(train, holdout, synthetic)``: run every attack and return an :class:`AuditReport`.

Documented choices (also recorded in each report):

- Members are the training rows. When train is larger than the holdout, a seeded random subset of training rows
  as large as the holdout is the member set, so that members and non-members are compared at equal sizes (rates
  such as uniqueness depend on set size); when the holdout is much smaller (less than half of train) a warning
  says so, as intervals get wide. This subsamples the *member* side only: every distance is computed against the
  full synthetic table and full reference halves, and every training row is still scored for the per-record
  risk list.
- Non-members are all holdout rows. The holdout is split at random into two halves that serve as calibration
  references (see :mod:`ehrsynth.privacy.attacks.membership`).
- Synthetic rows that are exact duplicates of each other are searched once (distances are unchanged).
- Everything random comes from one ``numpy.random.Generator`` seeded with ``random_state``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth._version import __version__
from ehrsynth.errors import InvalidParameterError
from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.attacks import membership as mem
from ehrsynth.privacy.attacks.attribute import run_attribute_inference
from ehrsynth.privacy.attacks.column_disclosure import run_column_disclosure
from ehrsynth.privacy.attacks.singling_out import row_keys, run_singling_out
from ehrsynth.privacy.columns import (
    ColumnTyping,
    check_kinds,
    default_quasi_identifiers,
    default_sensitive,
    infer_typing,
    resolve_names,
    typing_from_schema,
)
from ehrsynth.privacy.distances import DEFAULT_BLOCK_BYTES, resolve_device
from ehrsynth.privacy.encoding import TableEncoder
from ehrsynth.privacy.inputs import SMALL_HOLDOUT_RATIO, check_tables, load_table
from ehrsynth.privacy.overlap import check_overlap
from ehrsynth.privacy.report import AuditReport
from ehrsynth.stopwatch import Stopwatch

logger = logging.getLogger(__name__)
ATTACKS = ("membership", "attribute_inference", "singling_out", "column_disclosure")


def _check_params(n_bootstrap: int, k: int, near_copy_distance: float, top_records: int) -> None:
    if n_bootstrap < 100:
        raise InvalidParameterError(
            f"n_bootstrap must be at least 100 for stable intervals, found {n_bootstrap}"
        )
    if k < 1:
        raise InvalidParameterError(f"k (nearest neighbours) must be at least 1, found {k}")
    if not near_copy_distance >= 0:
        raise InvalidParameterError(f"near_copy_distance must be >= 0, found {near_copy_distance}")
    if top_records < 0:
        raise InvalidParameterError(f"top_records must be >= 0, found {top_records}")


def _choose_columns(
    typing: ColumnTyping,
    frames: Sequence[pd.DataFrame],
    encoder: TableEncoder,
    quasi_identifiers: Sequence[str] | str | None,
    sensitive: Sequence[str] | str | None,
    n_qi_codes: int,
    n_sensitive: int,
) -> tuple[list[str], list[str], dict[str, str]]:
    qi = resolve_names(quasi_identifiers, typing, "quasi-identifiers")
    sens = resolve_names(sensitive, typing, "sensitive attributes")
    if qi is not None and sens is not None:
        both = [c for c in sens if c in set(qi)]
        if both:
            raise InvalidParameterError(
                f"columns {both} are named both as quasi-identifiers and as sensitive; a column is one or the other",
                column=both[0],
            )
    n_real = sum(len(f) for f in frames)
    prevalence = encoder.binary_prevalence_
    majority = {
        e.name: (
            len(e.categories),
            float(encoder.feature_density_[encoder.offsets_[i] : encoder.offsets_[i + 1]].max()),
        )
        for i, e in enumerate(encoder.encodings())
        if e.kind == "categorical"
    }
    origin = {"quasi_identifiers": "user" if qi is not None else "default"}
    origin["sensitive"] = "user" if sens is not None else "default"
    if qi is None:
        qi = default_quasi_identifiers(typing, prevalence, n_qi_codes, exclude=sens or ())
    if sens is None:
        sens = default_sensitive(typing, prevalence, n_real, qi, n_sensitive, majority)
    return qi, sens, origin


def audit(
    train: pd.DataFrame | str | os.PathLike[str],
    holdout: pd.DataFrame | str | os.PathLike[str],
    synthetic: pd.DataFrame | str | os.PathLike[str],
    *,
    schema: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    quasi_identifiers: Sequence[str] | str | None = None,
    sensitive: Sequence[str] | str | None = None,
    random_state: int | None = 0,
    n_bootstrap: int = 1000,
    k: int = 1,
    near_copy_distance: float = 1.0,
    n_qi_codes: int = 10,
    n_sensitive: int = 5,
    n_components: int = 32,
    top_records: int = 20,
    device: str = "auto",
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> AuditReport:
    """Audit ``synthetic`` against the real ``train`` data and a real ``holdout`` never used in training.

    Tables are DataFrames or paths (.csv, .csv.gz, .parquet) with the same columns. ``schema`` (a path or the
    dict written by ``ehrsynth schema``) declares column kinds; without it kinds are inferred from train and
    holdout. ``quasi_identifiers`` and ``sensitive`` name columns (a list or "a,b"); by default the
    quasi-identifiers are demographic-looking columns plus the ``n_qi_codes`` most common binary codes, and the
    sensitive attributes the ``n_sensitive`` rarest binary codes with enough positives. ``k`` is the number of
    nearest synthetic neighbours of the attribute attack, ``near_copy_distance`` the distance (in column units)
    under which a synthetic record is a near copy, ``n_components`` the size of the density models.
    ``device`` is ``auto``/``cpu``/``cuda`` for the distance computations.
    """
    _check_params(n_bootstrap, k, near_copy_distance, top_records)
    clock = Stopwatch()
    tables = [
        load_table(t, role) for t, role in ((train, "train"), (holdout, "holdout"), (synthetic, "synthetic"))
    ]
    columns = check_tables(*tables)
    tr, ho, sy = (t.frame for t in tables)
    real = (tr, ho)
    typing = typing_from_schema(schema, columns) if schema is not None else infer_typing(real)
    notes: list[str] = check_kinds(typing, real) if typing.source == "schema" else []
    notes += check_overlap(tr, ho, tables[0].sha256, tables[1].sha256)
    if typing.dropped:
        notes.append(
            "identifier-like columns were dropped from the row-level attacks (the column-disclosure attack still "
            "tests whether their values were copied): "
            + ", ".join(f"{n} ({r})" for n, r in typing.dropped.items())
        )
    rng = np.random.default_rng(random_state)
    n_train, n_holdout = len(tr), len(ho)
    if n_holdout < SMALL_HOLDOUT_RATIO * n_train:
        msg = (
            f"the holdout ({n_holdout} rows) is much smaller than train ({n_train} rows): a seeded random subset "
            f"of {n_holdout} training rows is the member set, so that members and non-members are compared at "
            "equal sizes; intervals are wider than with a larger holdout"
        )
        logger.warning(msg)
        notes.append(msg)
    missing_anywhere = [
        n
        for n, kind in typing.kinds.items()
        if kind == "numeric" and any(f[n].isna().any() for f in (tr, ho, sy))
    ]
    encoder = TableEncoder(typing.kinds).fit(real, missing_anywhere=missing_anywhere)
    qi, sens, origin = _choose_columns(
        typing, real, encoder, quasi_identifiers, sensitive, n_qi_codes, n_sensitive
    )
    split = mem.Split.draw(n_train, n_holdout, rng)
    device_used = resolve_device(device)
    clock.lap("prepare")

    (enc_tr, oh_tr), (enc_ho, oh_ho), (enc_sy, oh_sy) = (encoder.transform(df) for df in (tr, ho, sy))
    clock.lap("encode")
    _, syn_unique = np.unique(enc_sy.keys, return_index=True)
    dist = mem.compute_distances(
        enc_tr, enc_ho, enc_sy.take(np.sort(syn_unique)), split, device=device_used, block_bytes=block_bytes
    )
    clock.lap("distances")

    bern, block = encoder.one_hot_layout()
    dens_tr, dens_ho = mem.density_ratio_scores(
        oh_tr, oh_ho, oh_sy, bern, block, split, n_components=n_components, rng=rng
    )
    del oh_tr, oh_ho, oh_sy
    clock.lap("density")

    m = split.members
    train_scores = {**mem.scores(dist.syn_train, dist.ref_train), "density_ratio": dens_tr}
    holdout_scores = {**mem.scores(dist.syn_holdout, dist.ref_holdout), "density_ratio": dens_ho}
    membership = mem.evaluate(
        {name: s[m] for name, s in train_scores.items()},
        holdout_scores,
        dist.syn_train[m],
        dist.syn_holdout,
        n_bootstrap=n_bootstrap,
        rng=rng,
    )
    clock.lap("membership_stats")

    members_df = tr.iloc[m]
    attribute = run_attribute_inference(
        encoder, members_df, ho, sy, qi, sens, k=k, n_bootstrap=n_bootstrap, rng=rng, block_bytes=block_bytes
    )
    clock.lap("attribute_inference")

    qi_m, qi_h, qi_s = (
        row_keys(encoder.discrete(df, qi)) if qi else np.zeros(len(df), np.uint64)
        for df in (members_df, ho, sy)
    )
    singling = run_singling_out(
        qi_m,
        qi_h,
        qi_s,
        enc_tr.keys[m],
        enc_ho.keys,
        enc_sy.keys,
        dist.syn_train[m],
        dist.syn_holdout,
        quasi_identifiers=qi,
        near_copy_distance=near_copy_distance,
        n_bootstrap=n_bootstrap,
        rng=rng,
    )
    clock.lap("singling_out")
    columns_attack = run_column_disclosure(tr, ho, sy, identifier_like=typing.dropped, rng=rng)
    clock.lap("column_disclosure")

    indicators = (
        membership.indicators + attribute.indicators + singling.indicators + columns_attack.indicators
    )
    per_attack = th.assess(indicators)
    verdicts = {a: per_attack.get(a, "low") for a in ATTACKS}
    verdict = th.highest(verdicts.values())
    unsure = [i for i in indicators if i.inconclusive]
    if unsure:
        notes.append(
            "inconclusive (too few records to tell no excess risk from the 0.09 guidance, or a large excess that "
            "is not significant): "
            + "; ".join(
                f"{i.attack} / {i.name}: {i.value:.3f} [{i.ci[0]:.3f}, {i.ci[1]:.3f}]" for i in unsure
            )
        )

    score = train_scores[mem.PER_RECORD_SCORE]
    order = np.lexsort((dist.syn_train, -score))[:top_records]
    is_exact = np.isin(enc_tr.keys[order], enc_sy.keys)
    per_record = {
        "score": mem.PER_RECORD_SCORE,
        "description": "training rows (0-based positions in the train table) ranked by calibrated closeness to "
        "the synthetic data; JSON only",
        "top_train_indexes": [int(i) for i in order],
        "records": [
            {
                "index": int(i),
                "score": float(score[i]),
                "distance_to_synthetic": float(dist.syn_train[i]),
                "distance_to_reference": float(dist.ref_train[i]),
                "exact_copy": bool(c),
            }
            for i, c in zip(order, is_exact, strict=True)
        ],
    }
    attacks: dict[str, Any] = {
        "membership": {"verdict": verdicts["membership"], **membership.summary},
        "attribute_inference": {"verdict": verdicts["attribute_inference"], **attribute.summary},
        "singling_out": {"verdict": verdicts["singling_out"], **singling.summary},
        "column_disclosure": {"verdict": verdicts["column_disclosure"], **columns_attack.summary},
    }
    clock.lap("total")
    data: dict[str, Any] = {
        "report_format": 1,
        "version": __version__,
        "verdict": verdict,
        "verdicts": verdicts,
        "attacks": attacks,
        "indicators": [i.to_dict() for i in indicators],
        "per_record": per_record,
        "inputs": {t.role: t.describe() for t in tables},
        "columns": {
            **typing.to_dict(),
            "quasi_identifiers": qi,
            "sensitive": sens,
            "chosen_by": origin,
        },
        "parameters": {
            "random_state": random_state,
            "n_bootstrap": n_bootstrap,
            "k": k,
            "near_copy_distance": near_copy_distance,
            "n_qi_codes": n_qi_codes,
            "n_sensitive": n_sensitive,
            "n_components": n_components,
            "device": device_used,
            "members": "all training rows"
            if len(m) == n_train
            else f"seeded random subset of {len(m)} of {n_train} training rows",
            "synthetic_distinct_rows": len(syn_unique),
        },
        "thresholds": th.describe(),
        "notes": notes,
        "timing_s": clock.wall,
        "cpu_s": clock.cpu,
    }
    figures = {
        "roc": {name: (s.fpr, s.tpr) for name, s in membership.roc.items()},
        "dcr_histogram": membership.histogram,
        "attribute_bars": attribute.bars,
    }
    logger.info("audit finished in %.1f s: verdict %s", clock.wall["total"], verdict)
    return AuditReport(data, figures)
