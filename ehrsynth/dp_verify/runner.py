"""Verify a privacy claim empirically: a canary-based lower bound on the ε that training actually achieves.

``dp_audit(df, epsilon=1.0)`` (or ``ehrsynth audit-dp INPUT --epsilon 1``) trains the medGAN pipeline on
``df`` plus canaries and returns ε_LB, a number that the true ε of the pipeline exceeds with probability at least
95 %. ε_LB above the claimed ε refutes the claim (an implementation bug, or a wrong accountant); ε_LB below it
is consistent with the claim, but does not prove it (a lower bound is only as strong as the attack).

**Protocol** (one-run auditing, Steinke, Nasr & Jagielski 2023, arXiv:2305.08846):

1. A schema is inferred from ``df`` once and *declared* to every fit (:class:`~ehrsynth.schema.Schema`). The
   audit is a test harness, not a release: with a declared schema, DP domain discovery does not run, so it
   cannot silently drop the canaries' rare codes or categories, and the whole budget ε goes to the DP-SGD
   phases whose implementation is being tested.
2. ``canaries`` distinguishable records are built (:mod:`ehrsynth.dp_verify.canaries`); each is included in the
   training data independently with probability ½. δ is fixed before the draw (``default_delta`` of the base
   rows plus all canaries), so it does not depend on which canaries went in.
3. One model is trained (per run). Each canary is scored by four white-box attacks —
   ``reconstruction_pretrained``: minus the autoencoder's reconstruction loss of the canary when its DP phase
   ended (DP-SGD's guarantee covers every iterate; the GAN phase then fine-tunes the decoder, which blurs the
   signal); ``reconstruction``: the same on the final model; ``discriminator``: the discriminator's logit on
   the canary; ``synthetic_distance``: minus the distance from the canary to the nearest of as many synthetic
   records as the table has rows (the likelihood of the canary under the synthetic data, in its simplest
   form). Every score is post-processing of what DP training released.
4. For each attack and each number of guesses (``GUESS_FRACTIONS`` of the canaries per side), the auditor
   guesses "in" for the highest scores and "out" for the lowest, abstaining on the rest; the count of correct
   guesses gives ε_LB through the paper's bound for (ε, δ)-DP (:mod:`ehrsynth.dp_verify.lower_bound`). The best
   rule is reported with a Bonferroni correction over all rules tried, so nothing is chosen by peeking at
   which canaries went in.

With ``runs > 1`` every run draws the inclusion afresh and trains a new model; the one-run bound pools all
``canaries × runs`` guesses (each draw affects only its own run), and the Jagielski et al. (2020) threshold
bound ln((TPR_lower − δ) / FPR_upper) with Clopper–Pearson rates is reported beside it.

**Schedule.** A DP guarantee holds for every schedule, so the audit trains where one record's influence is
most visible, unless ``model_kwargs`` say otherwise: ``AUDIT_MODEL_DEFAULTS`` (the reference 100 autoencoder
epochs, whose reconstruction loss is the strongest attack here, and 30 GAN epochs) and, under DP,
``AUDIT_DP_DEFAULTS`` (an expected batch of 64 rows: each clipped record is a larger share of each step).
Pass the schedule you release with (``epochs``, ``ae_epochs``, ``batch_size``) to audit exactly that one.

**Caveats.** Power falls with the table's size: on 5,000 patients the default audit refutes DP-SGD whose noise
was silently dropped, on 20,000 it does not (benchmarks/results_dp_audit.md); audit a random sample of at most
a few thousand rows (the code under test is the same) or pool runs. The sample rate is the batch size over
the rows actually trained on, so it moves by a fraction of a percent with the number of canaries drawn in (far
below the precision of any audit). Opacus noise comes from a seeded ``torch.Generator`` (no secure RNG), as in
training itself.
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehrsynth.dp.checks import check_epsilon, resolve_delta
from ehrsynth.dp_verify.canaries import audit_engine, draw_inclusion, make_canaries, score_canaries
from ehrsynth.dp_verify.lower_bound import GUESS_FRACTIONS, best_one_run_bound, threshold_rate_bound
from ehrsynth.dp_verify.report import DPAuditReport
from ehrsynth.errors import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.estimator import MedGAN
    from ehrsynth.schema import Schema

logger = logging.getLogger(__name__)

DEFAULT_CANARIES = 500
MIN_CANARIES = 20
CONFIDENCE = 0.95
#: Schedule of the audited fits unless ``model_kwargs`` override it (see the module docstring).
AUDIT_MODEL_DEFAULTS: dict[str, Any] = {"ae_epochs": 100, "epochs": 30}
#: ... and under DP also a small expected batch (sample rate 64 / n), where one record weighs most per step.
AUDIT_DP_DEFAULTS: dict[str, Any] = {"batch_size": 64}
#: MedGAN parameters an audit cannot use: each run must train from scratch.
REFUSED_PARAMS = ("checkpoint_dir",)
REPORT_VERSION = 1


# -- validation --------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, found {value!r}")
    return int(value)


def _resolve_delta(delta: Any, n_max: int) -> float:
    from ehrsynth.dp.accounting import default_delta

    return resolve_delta(delta, n_max, default=default_delta(n_max), unit="rows and canaries")


def _model_params(model_kwargs: dict[str, Any], private: bool) -> dict[str, Any]:
    from ehrsynth.estimator import MedGAN

    refused = sorted(set(model_kwargs) & set(REFUSED_PARAMS))
    if refused:
        raise InvalidParameterError(
            f"dp_audit cannot use {refused}: every audit run trains from scratch on its own canary draw; "
            "leave it unset"
        )
    valid = set(MedGAN._param_names())
    unknown = sorted(set(model_kwargs) - valid)
    if unknown:
        raise InvalidParameterError(f"unknown MedGAN parameters {unknown}; valid: {sorted(valid)}")
    return {**AUDIT_MODEL_DEFAULTS, **(AUDIT_DP_DEFAULTS if private else {}), **model_kwargs}


def _fit_run(
    df: pd.DataFrame,
    canary_rows: pd.DataFrame,
    member: np.ndarray,
    schema: Schema,
    params: dict[str, Any],
    *,
    epsilon: float | None,
    delta: float,
    seed: int,
) -> tuple[MedGAN, dict[str, Any] | None]:
    """Fit on the base rows plus the included canaries; also return the autoencoder's weights as they were
    when its (DP) phase ended, captured through the progress callback (DP-SGD's guarantee covers every
    iterate, so that intermediate model is as private as the final one)."""
    from ehrsynth.estimator import MedGAN, NoPrivacyWarning
    from ehrsynth.training.progress import ProgressEvent

    train = pd.concat([df, canary_rows[member]], ignore_index=True)
    user_progress = params.get("progress")
    snapshot: dict[str, Any] = {}

    def progress(event: ProgressEvent) -> None:
        if event.phase == "autoencoder" and event.step >= event.total and "ae" not in snapshot:
            snapshot["ae"] = copy.deepcopy(event.module.state_dict())
        if user_progress is not None:
            user_progress(event)

    model = MedGAN(
        **{**params, "progress": progress},
        epsilon=epsilon,
        delta=delta if epsilon is not None else None,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)  # the audit's model is never released
        model.fit(train, schema=schema)
    return model, snapshot.get("ae")


def _run_record(model: MedGAN, member: np.ndarray, seed: int, seconds: float, rows: int) -> dict[str, Any]:
    record = model.privacy_.to_dict()
    return {
        "seed": seed,
        "canaries_in": int(member.sum()),
        "training_rows": rows,
        "epsilon_spent": record["epsilon_spent"],
        "mechanisms": record["mechanisms"],
        "fit_seconds": round(seconds, 2),
    }


def _aucs(
    scores: dict[str, np.ndarray], member: np.ndarray, run: np.ndarray, rng: np.random.Generator
) -> dict[str, dict[str, Any]]:
    from ehrsynth.dp_verify.lower_bound import within_run_ranks
    from ehrsynth.privacy.stats import roc_summary

    out: dict[str, dict[str, Any]] = {}
    if member.all() or not member.any():
        return {name: {"auc": None, "auc_ci": None} for name in scores}
    for name, values in scores.items():
        ranks = within_run_ranks(values, run, rng).astype(np.float64)
        summary = roc_summary(ranks[member], ranks[~member], fprs=(0.05,), n_bootstrap=1000, rng=rng)
        out[name] = {
            "auc": summary.auc.value,
            "auc_ci": list(summary.auc.ci),
            "tpr_at_fpr_0.05": summary.tpr_at[0.05].value,
        }
    return out


# -- the audit -------------------------------------------------------------------------------------------


def dp_audit(
    df: pd.DataFrame,
    *,
    epsilon: float | None = 3.0,
    canaries: int = DEFAULT_CANARIES,
    runs: int = 1,
    random_state: int | None = None,
    delta: float | None = None,
    confidence: float = CONFIDENCE,
    schema: Schema | None = None,
    source: str | None = None,
    **model_kwargs: Any,
) -> DPAuditReport:
    """Audit the DP claim ``epsilon`` of MedGAN training on ``df`` with canaries (see the module docstring).

    ``epsilon=None`` trains without DP and measures how much the pipeline leaks (nothing is claimed, so
    nothing can be refuted). ``canaries``: canaries per run, each included with probability ½. ``runs``:
    independent training runs. ``delta``: δ of the claim (default ``default_delta(rows + canaries)``).
    ``schema``: the declared schema (default: inferred from ``df``, non-privately: this is a test harness).
    ``source``: a label for the input in the report. ``model_kwargs``: MedGAN parameters (schedule,
    architecture, device, progress...), on top of ``AUDIT_MODEL_DEFAULTS`` (and, under DP,
    ``AUDIT_DP_DEFAULTS``).
    """
    from ehrsynth.inference import check_frame
    from ehrsynth.schema import Schema

    df = check_frame(df, min_rows=10, what="audit table")
    eps = None if epsilon is None else check_epsilon(epsilon, "; use epsilon=None for no DP")
    m = _check_int("canaries", canaries, MIN_CANARIES)
    n_runs = _check_int("runs", runs, 1)
    if not (isinstance(confidence, float) and 0.5 <= confidence < 1.0):
        raise InvalidParameterError(f"confidence must be a float in [0.5, 1), found {confidence!r}")
    params = _model_params(dict(model_kwargs), eps is not None)
    delta_used = _resolve_delta(delta, len(df) + m)
    declared = Schema.infer(df) if schema is None else schema
    declared.validate(df, strict=True)
    rng = np.random.default_rng(random_state)
    engine = audit_engine(params)
    canary_rows = make_canaries(df, declared, m, rng, engine=engine)
    declared.validate(pd.concat([df, canary_rows], ignore_index=True), strict=True)

    started = time.perf_counter()
    pooled = _train_and_score(df, canary_rows, declared, params, n_runs, rng, epsilon=eps, delta=delta_used)
    best, rules = best_one_run_bound(
        pooled.scores, pooled.member, pooled.run, delta=delta_used, confidence=confidence, rng=rng
    )
    attacks = _aucs(pooled.scores, pooled.member, pooled.run, rng)
    data: dict[str, Any] = {
        "epsilon_claimed": eps,
        "delta": delta_used,
        "epsilon_lower_bound": best.epsilon,
        "confidence": confidence,
        "canaries": m,
        "runs": n_runs,
        "method": _method(n_runs, len(rules), tuple(pooled.scores)),
        "attack_auc": attacks[best.attack]["auc"],
        "attack": best.attack,
        "refuted": eps is not None and best.epsilon > eps,
        "best_rule": best.to_dict(),
        "rules": [rule.to_dict() for rule in rules],
        "attacks": attacks,
        "runs_detail": pooled.records,
        "input": {"source": source, "rows": len(df), "columns": int(df.shape[1])},
        "canary_design": _canary_design(declared),
        "model_params": {k: v for k, v in params.items() if k != "progress"},
        "seconds": round(time.perf_counter() - started, 2),
        "seed": random_state,
        "version": REPORT_VERSION,
    }
    if n_runs > 1:
        data["threshold_bound"] = threshold_rate_bound(
            pooled.scores, pooled.member, pooled.run, delta=delta_used, confidence=confidence, rng=rng
        )
    data["notes"] = _notes(data)
    return DPAuditReport(data)


@dataclass(frozen=True)
class _Pooled:
    """Every canary of every run: attack scores, whether it was trained on, which run; one record per run."""

    scores: dict[str, np.ndarray]
    member: np.ndarray
    run: np.ndarray
    records: list[dict[str, Any]]


def _train_and_score(
    df: pd.DataFrame,
    canary_rows: pd.DataFrame,
    schema: Schema,
    params: dict[str, Any],
    n_runs: int,
    rng: np.random.Generator,
    *,
    epsilon: float | None,
    delta: float,
) -> _Pooled:
    """Draw the inclusion, train and score the canaries ``n_runs`` times; pool the results."""
    m = len(canary_rows)
    pooled: dict[str, list[np.ndarray]] = {}  # the attacks score_canaries runs for this engine
    members: list[np.ndarray] = []
    run_records: list[dict[str, Any]] = []
    for r in range(n_runs):
        member = draw_inclusion(m, rng)
        seed = int(rng.integers(2**31 - 1))
        t0 = time.perf_counter()
        model, pretrained = _fit_run(
            df, canary_rows, member, schema, params, epsilon=epsilon, delta=delta, seed=seed
        )
        seconds = time.perf_counter() - t0
        for name, values in score_canaries(model, canary_rows, df, rng, pretrained).items():
            pooled.setdefault(name, []).append(values)
        members.append(member)
        run_records.append(_run_record(model, member, seed, seconds, len(df) + int(member.sum())))
        logger.info("dp audit run %d/%d: %d canaries in, fit %.1f s", r + 1, n_runs, member.sum(), seconds)
    return _Pooled(
        {name: np.concatenate(parts) for name, parts in pooled.items()},
        np.concatenate(members),
        np.repeat(np.arange(n_runs), m),
        run_records,
    )


def _method(n_runs: int, n_rules: int, attacks: tuple[str, ...]) -> str:
    pooled = "" if n_runs == 1 else f", pooled over {n_runs} runs with fresh inclusion draws"
    return (
        "one-run canary audit (Steinke, Nasr & Jagielski 2023): canaries included with probability 1/2"
        f"{pooled}; guesses from attack scores ({', '.join(attacks)}), top/bottom fractions "
        f"{list(GUESS_FRACTIONS)} per side; (epsilon, delta) bound on the number of correct guesses, "
        f"Bonferroni over {n_rules} rules"
    )


def _canary_design(schema: Schema) -> dict[str, Any]:
    from ehrsynth.dp_verify.canaries import codes_per_canary
    from ehrsynth.schema import Kind

    kinds: dict[str, int] = {}
    for col in schema.columns:
        kinds[col.kind.value] = kinds.get(col.kind.value, 0) + 1
    return {
        "columns_by_kind": kinds,
        "codes_per_canary": codes_per_canary(kinds.get(Kind.BINARY.value, 0)),
        "rule": "binary: a random fifth of the codes set; categorical: a uniformly drawn category; "
        "numeric/date: the table's minimum or maximum; never missing; schema declared for every fit",
    }


def _notes(data: dict[str, Any]) -> list[str]:
    notes = []
    eps, lb = data["epsilon_claimed"], data["epsilon_lower_bound"]
    level = f"{100 * data['confidence']:g}%"
    if eps is None:
        notes.append(
            "Trained WITHOUT differential privacy: nothing is claimed. The pipeline's true epsilon is at "
            f"least {lb:.3g} with {level} confidence."
        )
    elif data["refuted"]:
        notes.append(
            f"The claim epsilon = {eps:g} is REFUTED: the true epsilon is at least {lb:.3g} with {level} "
            "confidence. Look for a bug in the DP implementation (noise, clipping, sampling or accounting)."
        )
    else:
        notes.append(
            f"Consistent with the claim epsilon = {eps:g}: the attacks found epsilon >= {lb:.3g} ({level} "
            "confidence). A lower bound is only as strong as the attack: this is evidence, not a proof."
        )
    if "threshold_bound" in data:
        notes.append(
            "threshold_bound (Jagielski et al. 2020) treats the canaries of one run as independent trials; "
            "the headline one-run bound does not need that assumption."
        )
    return notes
