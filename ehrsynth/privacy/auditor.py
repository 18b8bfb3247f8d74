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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth._version import __version__
from ehrsynth.errors import InvalidParameterError
from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.attacks import membership as mem
from ehrsynth.privacy.attacks.attribute import run_attribute_inference
from ehrsynth.privacy.attacks.column_disclosure import run_column_disclosure
from ehrsynth.privacy.attacks.singling_out import SinglingOutResult, row_keys, run_singling_out
from ehrsynth.privacy.columns import (
    ColumnTyping,
    check_kinds,
    default_quasi_identifiers,
    default_sensitive,
    infer_typing,
    resolve_names,
    typing_from_schema,
)
from ehrsynth.privacy.distances import DEFAULT_BLOCK_BYTES, EncodedMatrix, resolve_device
from ehrsynth.privacy.encoding import TableEncoder
from ehrsynth.privacy.inputs import SMALL_HOLDOUT_RATIO, LoadedTable, check_tables, load_table
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


@dataclass
class _Prepared:
    """The loaded tables and what is fixed before any attack runs."""

    tables: list[LoadedTable]
    typing: ColumnTyping
    notes: list[str]
    encoder: TableEncoder
    quasi_identifiers: list[str]
    sensitive: list[str]
    origin: dict[str, str]

    @property
    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(train, holdout, synthetic)."""
        return self.tables[0].frame, self.tables[1].frame, self.tables[2].frame


@dataclass
class _Membership:
    """The membership attack's distances, scores and statistics, and the Gower views they came from."""

    encoded: tuple[EncodedMatrix, EncodedMatrix, EncodedMatrix]  # train, holdout, synthetic
    synthetic_distinct: int
    dist: mem.Distances
    train_scores: dict[str, np.ndarray]
    result: mem.MembershipResult


def _input_notes(typing: ColumnTyping, tables: Sequence[LoadedTable]) -> list[str]:
    """Notes on the inputs: declared kinds that do not fit, train/holdout overlap, dropped identifier-like
    columns, and a holdout much smaller than train (also logged as a warning)."""
    tr, ho = tables[0].frame, tables[1].frame
    notes: list[str] = check_kinds(typing, (tr, ho)) if typing.source == "schema" else []
    notes += check_overlap(tr, ho, tables[0].sha256, tables[1].sha256)
    if typing.dropped:
        notes.append(
            "identifier-like columns were dropped from the row-level attacks (the column-disclosure attack still "
            "tests whether their values were copied): "
            + ", ".join(f"{n} ({r})" for n, r in typing.dropped.items())
        )
    n_train, n_holdout = len(tr), len(ho)
    if n_holdout < SMALL_HOLDOUT_RATIO * n_train:
        msg = (
            f"the holdout ({n_holdout} rows) is much smaller than train ({n_train} rows): a seeded random subset "
            f"of {n_holdout} training rows is the member set, so that members and non-members are compared at "
            "equal sizes; intervals are wider than with a larger holdout"
        )
        logger.warning(msg)
        notes.append(msg)
    return notes


def _prepare(
    inputs: Sequence[pd.DataFrame | str | os.PathLike[str]],
    schema: str | os.PathLike[str] | Mapping[str, Any] | None,
    quasi_identifiers: Sequence[str] | str | None,
    sensitive: Sequence[str] | str | None,
    n_qi_codes: int,
    n_sensitive: int,
) -> _Prepared:
    """Load and check the three tables, type their columns, fit the encoder on the real rows, pick the
    quasi-identifiers and sensitive attributes."""
    tables = [load_table(t, role) for t, role in zip(inputs, ("train", "holdout", "synthetic"), strict=True)]
    columns = check_tables(*tables)
    tr, ho, sy = (t.frame for t in tables)
    real = (tr, ho)
    typing = typing_from_schema(schema, columns) if schema is not None else infer_typing(real)
    notes = _input_notes(typing, tables)
    missing_anywhere = [
        n
        for n, kind in typing.kinds.items()
        if kind == "numeric" and any(f[n].isna().any() for f in (tr, ho, sy))
    ]
    encoder = TableEncoder(typing.kinds).fit(real, missing_anywhere=missing_anywhere)
    qi, sens, origin = _choose_columns(
        typing, real, encoder, quasi_identifiers, sensitive, n_qi_codes, n_sensitive
    )
    return _Prepared(tables, typing, notes, encoder, qi, sens, origin)


def _run_membership(
    prep: _Prepared,
    split: mem.Split,
    rng: np.random.Generator,
    clock: Stopwatch,
    device: str,
    block_bytes: int,
    *,
    n_components: int,
    n_bootstrap: int,
) -> _Membership:
    """Encode the tables, compute distances and density-ratio scores, and test the members against the
    holdout."""
    encoder = prep.encoder
    (enc_tr, oh_tr), (enc_ho, oh_ho), (enc_sy, oh_sy) = (encoder.transform(df) for df in prep.frames)
    clock.lap("encode")
    _, syn_unique = np.unique(enc_sy.keys, return_index=True)
    dist = mem.compute_distances(
        enc_tr, enc_ho, enc_sy.take(np.sort(syn_unique)), split, device=device, block_bytes=block_bytes
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
    result = mem.evaluate(
        {name: s[m] for name, s in train_scores.items()},
        holdout_scores,
        dist.syn_train[m],
        dist.syn_holdout,
        n_bootstrap=n_bootstrap,
        rng=rng,
    )
    clock.lap("membership_stats")
    return _Membership((enc_tr, enc_ho, enc_sy), len(syn_unique), dist, train_scores, result)


def _run_singling_out(
    prep: _Prepared,
    membership: _Membership,
    members: np.ndarray,
    rng: np.random.Generator,
    *,
    near_copy_distance: float,
    n_bootstrap: int,
) -> SinglingOutResult:
    """The singling-out attack on the members, the holdout and the synthetic rows."""
    tr, ho, sy = prep.frames
    qi = prep.quasi_identifiers
    qi_m, qi_h, qi_s = (
        row_keys(prep.encoder.discrete(df, qi)) if qi else np.zeros(len(df), np.uint64)
        for df in (tr.iloc[members], ho, sy)
    )
    enc_tr, enc_ho, enc_sy = membership.encoded
    dist = membership.dist
    return run_singling_out(
        qi_m,
        qi_h,
        qi_s,
        enc_tr.keys[members],
        enc_ho.keys,
        enc_sy.keys,
        dist.syn_train[members],
        dist.syn_holdout,
        quasi_identifiers=qi,
        near_copy_distance=near_copy_distance,
        n_bootstrap=n_bootstrap,
        rng=rng,
    )


def _run_attacks(
    prep: _Prepared,
    membership: _Membership,
    members: np.ndarray,
    rng: np.random.Generator,
    clock: Stopwatch,
    k: int,
    near_copy_distance: float,
    n_bootstrap: int,
    block_bytes: int,
) -> dict[str, Any]:
    """Every attack's result by name (in :data:`ATTACKS` order), given the membership attack's."""
    tr, ho, sy = prep.frames
    attribute = run_attribute_inference(
        prep.encoder,
        tr.iloc[members],
        ho,
        sy,
        prep.quasi_identifiers,
        prep.sensitive,
        k=k,
        n_bootstrap=n_bootstrap,
        rng=rng,
        block_bytes=block_bytes,
    )
    clock.lap("attribute_inference")
    singling = _run_singling_out(
        prep, membership, members, rng, near_copy_distance=near_copy_distance, n_bootstrap=n_bootstrap
    )
    clock.lap("singling_out")
    columns_attack = run_column_disclosure(tr, ho, sy, identifier_like=prep.typing.dropped, rng=rng)
    clock.lap("column_disclosure")
    return {
        "membership": membership.result,
        "attribute_inference": attribute,
        "singling_out": singling,
        "column_disclosure": columns_attack,
    }


def _inconclusive_note(indicators: Sequence[th.RiskIndicator]) -> list[str]:
    unsure = [i for i in indicators if i.inconclusive]
    if not unsure:
        return []
    return [
        "inconclusive (too few records to tell no excess risk from the 0.09 guidance, or a large excess that "
        "is not significant): "
        + "; ".join(f"{i.attack} / {i.name}: {i.value:.3f} [{i.ci[0]:.3f}, {i.ci[1]:.3f}]" for i in unsure)
    ]


def _per_record(membership: _Membership, top_records: int) -> dict[str, Any]:
    """The ``top_records`` training rows closest to the synthetic data (JSON only, never in the HTML)."""
    dist = membership.dist
    enc_tr, _, enc_sy = membership.encoded
    score = membership.train_scores[mem.PER_RECORD_SCORE]
    order = np.lexsort((dist.syn_train, -score))[:top_records]
    is_exact = np.isin(enc_tr.keys[order], enc_sy.keys)
    return {
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


def _report_data(
    prep: _Prepared,
    membership: _Membership,
    verdicts: dict[str, str],
    attacks: dict[str, Any],
    indicators: Sequence[th.RiskIndicator],
    parameters: dict[str, Any],
    top_records: int,
    clock: Stopwatch,
) -> dict[str, Any]:
    """The report's JSON content."""
    return {
        "report_format": 1,
        "version": __version__,
        "verdict": th.highest(verdicts.values()),
        "verdicts": verdicts,
        "attacks": attacks,
        "indicators": [i.to_dict() for i in indicators],
        "per_record": _per_record(membership, top_records),
        "inputs": {t.role: t.describe() for t in prep.tables},
        "columns": {
            **prep.typing.to_dict(),
            "quasi_identifiers": prep.quasi_identifiers,
            "sensitive": prep.sensitive,
            "chosen_by": prep.origin,
        },
        "parameters": parameters,
        "thresholds": th.describe(),
        "notes": prep.notes + _inconclusive_note(indicators),
        "timing_s": clock.wall,
        "cpu_s": clock.cpu,
    }


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
    prep = _prepare(
        (train, holdout, synthetic), schema, quasi_identifiers, sensitive, n_qi_codes, n_sensitive
    )
    n_train, n_holdout = (len(f) for f in prep.frames[:2])
    rng = np.random.default_rng(random_state)
    split = mem.Split.draw(n_train, n_holdout, rng)
    device_used = resolve_device(device)
    clock.lap("prepare")
    membership = _run_membership(
        prep, split, rng, clock, device_used, block_bytes, n_components=n_components, n_bootstrap=n_bootstrap
    )
    results = _run_attacks(
        prep, membership, split.members, rng, clock, k, near_copy_distance, n_bootstrap, block_bytes
    )
    indicators = [i for r in results.values() for i in r.indicators]
    per_attack = th.assess(indicators)
    verdicts = {a: per_attack.get(a, "low") for a in ATTACKS}
    attacks = {a: {"verdict": verdicts[a], **results[a].summary} for a in ATTACKS}
    n_members = len(split.members)
    parameters = {
        "random_state": random_state,
        "n_bootstrap": n_bootstrap,
        "k": k,
        "near_copy_distance": near_copy_distance,
        "n_qi_codes": n_qi_codes,
        "n_sensitive": n_sensitive,
        "n_components": n_components,
        "device": device_used,
        "members": "all training rows"
        if n_members == n_train
        else f"seeded random subset of {n_members} of {n_train} training rows",
        "synthetic_distinct_rows": membership.synthetic_distinct,
    }
    clock.lap("total")
    data = _report_data(prep, membership, verdicts, attacks, indicators, parameters, top_records, clock)
    figures = {
        "roc": {name: (s.fpr, s.tpr) for name, s in membership.result.roc.items()},
        "dcr_histogram": membership.result.histogram,
        "attribute_bars": results["attribute_inference"].bars,
    }
    logger.info("audit finished in %.1f s: verdict %s", clock.wall["total"], data["verdict"])
    return AuditReport(data, figures)
