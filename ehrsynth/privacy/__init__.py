"""Privacy audit of a synthetic table against the real training data and a real holdout.

**Threat model.** An attacker holds the released synthetic table (and may know the generator's code and the
column schema) and some real records of people they are interested in. They want to learn whether a person was
in the training data (*membership*), a sensitive value of a person whose quasi-identifiers they know
(*attribute inference*), or to isolate one person of the training data by a rare combination of
quasi-identifiers (*singling out*, including verbatim or near copies of training rows). These are the three
risks named by the Article 29 Working Party (WP216): singling out, linkability and inference.

**Method.** Every attack is run twice: on training records (members) and, with the same procedure, on holdout
records that were never used for training (non-members, the control). Only the difference between the two is
attributable to the synthesis: a rare record is "close" to some synthetic record whether or not it was trained
on. Membership is scored by the distance to the closest synthetic record (DCR; Hamming on 0/1 codes, a
Gower-style distance on mixed types), that distance calibrated by the distance to a reference half of the
holdout (GAN-Leaks CAL), and a density ratio p_synthetic(x) / p_reference(x) from latent-class mixtures that
suit binary and categorical data; the medGAN presence-disclosure protocol is reported over Hamming thresholds.
Attribute inference uses nearest synthetic neighbours and a model trained on the synthetic table, from the
quasi-identifiers; its risk is (attack - control) / (1 - control). Every number has a confidence interval, and
the verdict (low / medium / high) maps the excess risks to the 0.09 re-identification guidance of EMA Policy
0070 and common HIPAA expert-determination practice (see :mod:`ehrsynth.privacy.thresholds`).

**Limitations.** A low verdict means that these attacks found no significant excess risk at this sample size;
it is evidence, not a guarantee, and only differential privacy bounds every possible attack. The attacks are
black-box on the synthetic table: shadow-model attacks that retrain the generator (TAPAS) and white-box
attacks are not run, and records that are outliers in ways the distance does not see may be under-rated. The
holdout must come from the same population as the training data and must never have been used in training or
model selection; a small holdout widens every interval (the report says when an interval is too wide to rule
out the guidance level). Distances treat all columns as equally important, and column typing without a schema
is a heuristic (identifier-like columns are dropped and listed).

Use :func:`audit` (``from ehrsynth.privacy import audit``) or the ``ehrsynth audit`` command. To test the
*training* rather than one released table, :func:`dp_audit` (``ehrsynth audit-dp``; implemented in
:mod:`ehrsynth.dp_verify`, which needs torch, and re-exported here lazily) inserts canaries, trains with the
claimed ε and reports an empirical lower bound on ε (a bound far above the claim means a DP bug). This package
needs numpy, pandas, scipy and scikit-learn only; torch is used for distances on a GPU when it is installed
and CUDA is available.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ehrsynth._lazy import lazy_getattr

_LAZY = {
    "audit": ("ehrsynth.privacy.auditor", "audit"),
    "AuditReport": ("ehrsynth.privacy.report", "AuditReport"),
    # torch-dependent DP verification lives in ehrsynth.dp_verify; re-exported lazily for convenience
    "dp_audit": ("ehrsynth.dp_verify.runner", "dp_audit"),
    "DPAuditReport": ("ehrsynth.dp_verify.runner", "DPAuditReport"),
}

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.dp_verify.runner import DPAuditReport, dp_audit
    from ehrsynth.privacy.auditor import audit
    from ehrsynth.privacy.report import AuditReport


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["AuditReport", "DPAuditReport", "audit", "dp_audit"]
