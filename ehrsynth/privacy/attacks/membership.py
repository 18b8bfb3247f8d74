"""Membership inference: was this record in the training data?

Scores (higher = more likely a member), all computed the same way for training and holdout records:

- ``dcr``: minus the distance to the closest synthetic record;
- ``dcr_calibrated`` (GAN-Leaks CAL): the DCR calibrated by the distance to the closest record of a *reference*
  set, as ``log((d_reference + c) / (d_synthetic + c))`` with ``c = CAL_OFFSET`` (half a column unit), i.e. a
  nearest-neighbour density ratio: a record much closer to the synthetic data than to comparable real data is
  suspicious, while records in dense regions (close to everything) are not. The holdout is split at random into
  two halves; a holdout record is calibrated against the other half, and each training record against a half
  drawn at random, so members and non-members meet the same procedure with references of the same size and no
  record is ever its own reference;
- ``density_ratio`` (DOMIAS idea): log p_synthetic(x) - log p_reference(x), both latent-class mixtures (binary and
  categorical data; numeric columns as quantile bins), the reference model fitted on the same halves.

Reported per attack: AUC with a stratified bootstrap interval, TPR at FPR 1 % and 0.1 %. The headline numbers
(``auc``, ``auc_ci``, ``tpr_at_fpr_*``) are those of the strongest attack (highest AUC), named in
``headline_attack``; the verdict tests every attack (Bonferroni), so showing the strongest one does not inflate
it. Also reported: the medGAN presence-disclosure
protocol: an attacker holding equal numbers of training and holdout records claims "member" when a synthetic
record lies within distance h; sensitivity (share of members claimed) and precision (share of claims that are
members, at this 50 % prior) for h = 0, 1, 2, ...
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.attacks.density import LatentClassMixture
from ehrsynth.privacy.distances import EncodedMatrix, nearest_distance
from ehrsynth.privacy.stats import RocSummary, roc_summary, wilson

logger = logging.getLogger(__name__)

PER_RECORD_SCORE = "dcr_calibrated"
ATTACK_NAMES = ("dcr", "dcr_calibrated", "density_ratio")
FPRS = (0.01, 0.001)
PRESENCE_THRESHOLDS = tuple(float(h) for h in range(11))
CAL_OFFSET = 0.5


def scores(d_synthetic: np.ndarray, d_reference: np.ndarray) -> dict[str, np.ndarray]:
    """The distance-based membership scores (higher = more likely a member)."""
    d_s = d_synthetic.astype(np.float64)
    d_r = d_reference.astype(np.float64)
    return {"dcr": -d_s, "dcr_calibrated": np.log((d_r + CAL_OFFSET) / (d_s + CAL_OFFSET))}


@dataclass
class Split:
    """Who is a member, who a non-member, and which holdout half each record is calibrated against."""

    members: np.ndarray  # indexes into train
    holdout_half: np.ndarray  # 0/1 per holdout row
    train_reference: np.ndarray  # 0/1 per train row: the holdout half used as its reference

    @classmethod
    def draw(cls, n_train: int, n_holdout: int, rng: np.random.Generator) -> Split:
        half = np.zeros(n_holdout, dtype=np.int8)
        half[rng.permutation(n_holdout)[: n_holdout // 2]] = 1
        train_ref = rng.integers(0, 2, n_train).astype(np.int8)
        if n_train > n_holdout:
            members = np.sort(rng.choice(n_train, size=n_holdout, replace=False))
        else:
            members = np.arange(n_train)
        return cls(members=members, holdout_half=half, train_reference=train_ref)

    @property
    def holdout_reference(self) -> np.ndarray:
        """Reference half of each holdout record: the other half."""
        return (1 - self.holdout_half).astype(np.int8)


@dataclass
class Distances:
    """Distances of every train and holdout row to the synthetic table and to its reference half."""

    syn_train: np.ndarray
    syn_holdout: np.ndarray
    ref_train: np.ndarray
    ref_holdout: np.ndarray


def compute_distances(
    train: EncodedMatrix,
    holdout: EncodedMatrix,
    synthetic: EncodedMatrix,
    split: Split,
    *,
    device: str = "cpu",
    block_bytes: int,
) -> Distances:
    syn_train = nearest_distance(train, synthetic, block_bytes=block_bytes, device=device)
    syn_holdout = nearest_distance(holdout, synthetic, block_bytes=block_bytes, device=device)
    ref_train = np.empty(len(train), dtype=np.float32)
    ref_holdout = np.empty(len(holdout), dtype=np.float32)
    for h in (0, 1):
        reference = holdout.take(np.flatnonzero(split.holdout_half == h))
        rows_t = np.flatnonzero(split.train_reference == h)
        rows_h = np.flatnonzero(split.holdout_reference == h)
        if len(rows_t):
            ref_train[rows_t] = nearest_distance(
                train.take(rows_t), reference, block_bytes=block_bytes, device=device
            )
        if len(rows_h):
            ref_holdout[rows_h] = nearest_distance(
                holdout.take(rows_h), reference, block_bytes=block_bytes, device=device
            )
    return Distances(syn_train, syn_holdout, ref_train, ref_holdout)


def density_ratio_scores(
    train: sp.csr_matrix,
    holdout: sp.csr_matrix,
    synthetic: sp.csr_matrix,
    bernoulli: np.ndarray,
    block: np.ndarray,
    split: Split,
    *,
    n_components: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """log p_synthetic - log p_reference for every train and holdout row."""

    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=3)]
    sets = [synthetic] + [holdout[np.flatnonzero(split.holdout_half == h)] for h in (0, 1)]

    def fit(i: int) -> LatentClassMixture:
        return LatentClassMixture(n_components, random_state=seeds[i]).fit(sets[i], bernoulli, block)

    # the three fits are independent; sparse products and exp release the GIL, so two threads help
    with ThreadPoolExecutor(max_workers=min(3, max(1, os.cpu_count() or 1))) as pool:
        synthetic_model, *reference_models = pool.map(fit, range(3))
    score_train = synthetic_model.score_samples(train)
    score_holdout = synthetic_model.score_samples(holdout)
    for h, reference_model in enumerate(reference_models):
        rows_t = np.flatnonzero(split.train_reference == h)
        rows_h = np.flatnonzero(split.holdout_reference == h)
        if len(rows_t):
            score_train[rows_t] -= reference_model.score_samples(train[rows_t])
        if len(rows_h):
            score_holdout[rows_h] -= reference_model.score_samples(holdout[rows_h])
    return score_train.astype(np.float64), score_holdout.astype(np.float64)


def presence_disclosure(
    d_members: np.ndarray, d_nonmembers: np.ndarray, thresholds: tuple[float, ...] = PRESENCE_THRESHOLDS
) -> dict[str, Any]:
    """medGAN presence protocol over distance thresholds, with Wilson intervals."""
    rows = []
    for h in thresholds:
        tp = int((d_members <= h + 1e-6).sum())
        fp = int((d_nonmembers <= h + 1e-6).sum())
        sens = tp / len(d_members)
        fpr = fp / len(d_nonmembers)
        precision = sens / (sens + fpr) if sens + fpr > 0 else float("nan")
        rows.append(
            {
                "h": h,
                "sensitivity": sens,
                "sensitivity_ci": list(wilson(tp, len(d_members), th.REPORT_CONFIDENCE)),
                "false_positive_rate": fpr,
                "false_positive_rate_ci": list(wilson(fp, len(d_nonmembers), th.REPORT_CONFIDENCE)),
                "precision": precision,
            }
        )
    return {
        "protocol": "medGAN presence disclosure: claim 'member' when a synthetic record is within distance h",
        "prior": 0.5,
        "thresholds": rows,
    }


def histogram(d_members: np.ndarray, d_nonmembers: np.ndarray, bins: int = 30) -> dict[str, Any]:
    both = np.concatenate([d_members, d_nonmembers])
    top = float(np.quantile(both, 0.99)) if len(both) else 1.0
    if 2 <= top <= 40:  # unit bins [k, k + 1): one per Hamming distance on 0/1 codes
        edges = np.arange(0.0, np.floor(top) + 2.0, 1.0)
    else:
        edges = np.linspace(0.0, max(top, 1e-6), bins + 1)
    clip = min(float(edges[-1]) - 1e-9, max(top, 0.0))
    m, _ = np.histogram(np.minimum(d_members, clip), bins=edges)
    n, _ = np.histogram(np.minimum(d_nonmembers, clip), bins=edges)
    return {"edges": edges.tolist(), "members": m.tolist(), "nonmembers": n.tolist()}


@dataclass
class MembershipResult:
    summary: dict[str, Any]
    indicators: list[th.RiskIndicator]
    roc: dict[str, RocSummary] = field(default_factory=dict)
    histogram: dict[str, Any] = field(default_factory=dict)


def _attack_dict(s: RocSummary) -> dict[str, Any]:
    return {
        "auc": s.auc.value,
        "auc_ci": list(s.auc.ci),
        "tpr_at_fpr_0.01": s.tpr_at[0.01].value,
        "tpr_at_fpr_0.01_ci": list(s.tpr_at[0.01].ci),
        "tpr_at_fpr_0.001": s.tpr_at[0.001].value,
        "tpr_at_fpr_0.001_ci": list(s.tpr_at[0.001].ci),
    }


def evaluate(
    member_scores: dict[str, np.ndarray],
    nonmember_scores: dict[str, np.ndarray],
    d_members: np.ndarray,
    d_nonmembers: np.ndarray,
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> MembershipResult:
    """ROC statistics of every attack, presence protocol and the membership risk indicators."""
    rocs = {
        name: roc_summary(
            member_scores[name],
            nonmember_scores[name],
            fprs=FPRS,
            n_bootstrap=n_bootstrap,
            confidence=th.REPORT_CONFIDENCE,
            rng=rng,
        )
        for name in member_scores
    }
    indicators: list[th.RiskIndicator] = []
    n_nonmembers = len(d_nonmembers)
    a = th.TPR_INDICATOR_FPR
    for name, s in rocs.items():
        indicators.append(
            th.RiskIndicator(
                attack="membership",
                name=f"{name}: 2*AUC-1",
                value=2 * s.auc.value - 1,
                ci=(2 * s.auc.ci[0] - 1, 2 * s.auc.ci[1] - 1),
                test=th.normal_test(s.auc.value - 0.5, s.auc.se),
            )
        )
        if n_nonmembers >= th.MIN_NONMEMBERS_FOR_TPR_INDICATOR:
            t = s.tpr_at[a]
            indicators.append(
                th.RiskIndicator(
                    attack="membership",
                    name=f"{name}: (TPR-{a:g})/(1-{a:g}) at FPR {a:g}",
                    value=(t.value - a) / (1 - a),
                    ci=((t.ci[0] - a) / (1 - a), (t.ci[1] - a) / (1 - a)),
                    test=th.normal_test(t.value - a, t.se),
                )
            )
    headline = max(rocs, key=lambda k: rocs[k].auc.value)
    summary: dict[str, Any] = {
        "headline_attack": headline,
        **_attack_dict(rocs[headline]),
        "n_members": len(d_members),
        "n_nonmembers": n_nonmembers,
        "attacks": {name: _attack_dict(s) for name, s in rocs.items()},
        "presence": presence_disclosure(d_members, d_nonmembers),
        "dcr": {
            "members_median": float(np.median(d_members)),
            "nonmembers_median": float(np.median(d_nonmembers)),
            "members_mean": float(np.mean(d_members)),
            "nonmembers_mean": float(np.mean(d_nonmembers)),
        },
    }
    return MembershipResult(
        summary=summary, indicators=indicators, roc=rocs, histogram=histogram(d_members, d_nonmembers)
    )
