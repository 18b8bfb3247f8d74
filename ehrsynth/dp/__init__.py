"""Differential privacy for ehrsynth (docs/design.md §4).

- :mod:`ehrsynth.dp.accounting` — the mechanisms (``PoissonGaussian``, ``Gaussian``, ``Laplace``), their
  composed ε under the PRV or RDP accountant, ``default_delta``, and ``PrivacyRecord`` (``privacy.json``).
- :mod:`ehrsynth.dp.calibration` — one budget for every phase: ``calibrate_noise``, ``max_steps_within``.
- :mod:`ehrsynth.dp.domain` — DP category sets, code vocabulary and numeric bounds for schema discovery.
- :mod:`ehrsynth.dp.budget`, :mod:`ehrsynth.dp.discovery`, :mod:`ehrsynth.dp.opacus_wiring` — how the trainer
  uses them.

Nothing is imported here: the submodules load numpy/scipy (and Opacus, hence torch, when ε is computed) lazily.
"""
