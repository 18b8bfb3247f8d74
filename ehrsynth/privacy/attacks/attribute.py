"""Attribute inference: from a target's quasi-identifiers, guess a sensitive attribute using the synthetic data.

Two attackers, each run on training records (attack) and holdout records (control):

- ``knn`` (medGAN protocol): the guess is the majority value among the synthetic records nearest to the target
  in quasi-identifier space (Gower-style distance; every record tied at the k-th nearest distance votes);
- ``model``: a gradient-boosted classifier trained on the synthetic table, quasi-identifiers → attribute.

Success is a correct guess (numeric attributes: the right quantile bin). Risk = (attack - control) / (1 -
control): the share of the room above the control that the synthetic data gives away about training records
specifically; what the synthetic data teach about everyone (population-level inference) is not a leak and is
cancelled by the control. The control rate is *standardised* to the members' distribution of the true value
(the holdout's success rate within each true value, weighted by how often that value occurs among members):
otherwise a chance difference in prevalence between the two groups (e.g. a code held by 40 % of 100 members
but 20 % of 100 holdout records) makes an attacker who always guesses "1" look like a leak. Duplicate quasi-identifier patterns are scored once, so the cost grows with the number
of distinct patterns, not the number of pairs of records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ehrsynth.privacy import thresholds as th
from ehrsynth.privacy.columns import to_float
from ehrsynth.privacy.distances import knn_votes
from ehrsynth.privacy.encoding import TableEncoder
from ehrsynth.privacy.stats import excess_risk

logger = logging.getLogger(__name__)

MODEL_MAX_ITER = 30


@dataclass
class AttributeResult:
    summary: dict[str, Any]
    indicators: list[th.RiskIndicator]
    bars: list[dict[str, Any]] = field(default_factory=list)


def _pattern_ids(df: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct pattern, pattern id of every row)."""
    keys = pd.util.hash_pandas_object(df.loc[:, list(columns)], index=False).to_numpy()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse


def _knn_predictions(
    encoder: TableEncoder,
    targets: pd.DataFrame,
    synthetic: pd.DataFrame,
    qi: Sequence[str],
    syn_codes: np.ndarray,
    widths: list[int],
    k: int,
    block_bytes: int,
) -> np.ndarray:
    """Predicted code of every sensitive attribute for every target (n_targets x n_attributes)."""
    s_first, s_inverse = _pattern_ids(synthetic, qi)
    t_first, t_inverse = _pattern_ids(targets, qi)
    syn_enc = encoder.gower(synthetic.iloc[s_first], qi)
    tgt_enc = encoder.gower(targets.iloc[t_first], qi)
    offsets = np.concatenate([[0], np.cumsum(widths)])
    n = len(synthetic)
    cols = (syn_codes + offsets[:-1][None, :]).ravel()
    rows = np.repeat(s_inverse, syn_codes.shape[1])
    votes = sp.csr_matrix(
        (np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(s_first), offsets[-1])
    )
    weights = np.bincount(s_inverse, minlength=len(s_first))
    summed = knn_votes(tgt_enc, syn_enc, weights, votes.toarray(), k=k, block_bytes=block_bytes)
    prior = np.asarray(votes.sum(axis=0)).ravel() / n  # tie-break towards the common synthetic value
    pred = np.empty((len(t_first), len(widths)), dtype=np.int32)
    for j in range(len(widths)):
        block = summed[:, offsets[j] : offsets[j + 1]] + 1e-6 * prior[offsets[j] : offsets[j + 1]]
        pred[:, j] = block.argmax(axis=1)
    return pred[t_inverse]


def _model_features(
    encoder: TableEncoder, df: pd.DataFrame, qi: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    encs = encoder.encodings(qi)
    codes = encoder.discrete(df, qi).astype(np.float64)
    categorical = np.zeros(len(encs), dtype=bool)
    for j, enc in enumerate(encs):
        if enc.kind == "numeric":
            codes[:, j] = to_float(df[enc.name])
        elif enc.kind == "categorical" and enc.n_codes <= 255:
            categorical[j] = True
    return codes, categorical


def _model_predictions(
    encoder: TableEncoder,
    targets: pd.DataFrame,
    synthetic: pd.DataFrame,
    qi: Sequence[str],
    syn_codes: np.ndarray,
    seed: int,
) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    x_syn, categorical = _model_features(encoder, synthetic, qi)
    x_tgt, _ = _model_features(encoder, targets, qi)
    pred = np.empty((len(targets), syn_codes.shape[1]), dtype=np.int32)
    for j in range(syn_codes.shape[1]):
        y = syn_codes[:, j]
        classes = np.unique(y)
        if len(classes) == 1:
            pred[:, j] = classes[0]
            continue
        clf = HistGradientBoostingClassifier(
            max_iter=MODEL_MAX_ITER,
            early_stopping=False,
            categorical_features=categorical if categorical.any() else None,
            random_state=seed,
        )
        # one OpenMP thread: small boosting problems run faster, and busy-waiting threads are slow on a shared host
        with threadpool_limits(limits=1, user_api="openmp"):
            clf.fit(x_syn, y)
            pred[:, j] = clf.predict(x_tgt)
    return pred


def standardised_successes(correct: np.ndarray, truth: np.ndarray, member_truth: np.ndarray) -> int:
    """Control successes re-weighted to the members' distribution of the true value (rounded to a count).

    Per true value v: the control's success rate among records with value v, weighted by the share of members
    with value v; a value no control record holds takes the control's overall rate.
    """
    overall = float(correct.mean()) if len(correct) else 0.0
    values, counts = np.unique(member_truth, return_counts=True)
    rate = 0.0
    for v, c in zip(values, counts, strict=True):
        held = truth == v
        rate += (c / len(member_truth)) * (float(correct[held].mean()) if held.any() else overall)
    return round(rate * len(correct))


def run_attribute_inference(
    encoder: TableEncoder,
    members: pd.DataFrame,
    nonmembers: pd.DataFrame,
    synthetic: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str],
    *,
    k: int,
    n_bootstrap: int,
    rng: np.random.Generator,
    block_bytes: int,
) -> AttributeResult:
    qi = list(quasi_identifiers)
    sens = list(sensitive)
    summary: dict[str, Any] = {
        "quasi_identifiers": qi,
        "sensitive": sens,
        "k": k,
        "attacks": ["knn", "model"],
        "attributes": {},
    }
    if not qi or not sens:
        summary["skipped"] = "no quasi-identifiers or no sensitive attributes to test"
        return AttributeResult(summary=summary, indicators=[])
    widths = [e.n_codes for e in encoder.encodings(sens)]
    syn_codes = encoder.discrete(synthetic, sens)
    targets = pd.concat([members, nonmembers], axis=0, ignore_index=True)
    truth = encoder.discrete(targets, sens)
    n_m = len(members)
    seed = int(rng.integers(0, 2**31 - 1))
    predictions = {
        "knn": _knn_predictions(encoder, targets, synthetic, qi, syn_codes, widths, k, block_bytes),
        "model": _model_predictions(encoder, targets, synthetic, qi, syn_codes, seed),
    }
    indicators: list[th.RiskIndicator] = []
    bars: list[dict[str, Any]] = []
    for j, name in enumerate(sens):
        per_attack: dict[str, Any] = {}
        for attack, pred in predictions.items():
            correct = pred[:, j] == truth[:, j]
            k_a = int(correct[:n_m].sum())
            n_c = len(targets) - n_m
            k_c = standardised_successes(correct[n_m:], truth[n_m:, j], truth[:n_m, j])
            est = excess_risk(
                k_a,
                n_m,
                k_c,
                n_c,
                n_bootstrap=max(n_bootstrap, 1000),
                confidence=th.REPORT_CONFIDENCE,
                rng=rng,
            )
            per_attack[attack] = {
                "attack_rate": k_a / n_m,
                "control_rate": k_c / n_c,
                "risk": est.value,
                "risk_ci": list(est.ci),
            }
            indicators.append(
                th.RiskIndicator(
                    attack="attribute_inference",
                    name=f"{name}: {attack}",
                    value=est.value,
                    ci=est.ci,
                    test=th.proportions_test(k_a, n_m, k_c, n_c),
                )
            )
            bars.append(
                {
                    "label": f"{name} ({attack})",
                    "indicator": f"{name}: {attack}",
                    "value": est.value,
                    "ci": est.ci,
                }
            )
        summary["attributes"][name] = per_attack
    summary["max_risk"] = max((i.value for i in indicators), default=0.0)
    return AttributeResult(summary=summary, indicators=indicators, bars=bars)
