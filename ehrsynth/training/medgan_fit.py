"""The medGAN fitting procedure: schema → encode → budget → AE pretraining → GAN → BN burn-in.

Checkpoints (when ``checkpoint_dir`` is set) are written during the GAN phase; a later ``fit`` with the same
settings and data size resumes from the last one with the accountant state (steps done per phase, noise
multipliers, sample rate, the DP schema and its mechanisms) restored, so the final ε equals that of an
uninterrupted run with the same steps, and no budget is spent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from ehrsynth.dp.accounting import Mechanism, PoissonGaussian, mechanism_from_dict, mechanism_to_dict
from ehrsynth.errors import InvalidDataError
from ehrsynth.schema import Kind, Schema
from ehrsynth.training.checkpoint import (
    checkpoint_hook,
    clear_checkpoint,
    fingerprint,
    open_checkpoint,
    restore_trainer,
    save_trainer_checkpoint,
)
from ehrsynth.training.dp_phase import DPPhase

if TYPE_CHECKING:
    from ehrsynth.estimator import MedGAN

logger = logging.getLogger(__name__)


def _resolve_schema(
    model: MedGAN,
    df: pd.DataFrame,
    schema: Schema | None,
    code_columns: Sequence[str],
    delta: float | None,
    rng: np.random.Generator,
) -> tuple[Schema, list[Mechanism]]:
    """The schema with every column's 1-way marginal: released under DP (one release that discovers what the
    declared schema leaves open and sets the calibration targets), exact without DP."""
    if schema is not None:
        schema.validate(df, strict=schema.complete)  # declared: public, charged nothing
    if not model.private:
        from ehrsynth.transforms.marginals import exact_marginals

        base = schema if schema is not None and schema.complete else _infer_with(df, schema)
        return exact_marginals(base, df), []
    if schema is not None and schema.complete and not model.calibrate_marginals:
        return schema, []
    from ehrsynth.dp.budget import domain_noise_multiplier
    from ehrsynth.dp.discovery import discover_schema
    from ehrsynth.dp.one_way import RELEASES

    sigma = domain_noise_multiplier(
        RELEASES,
        epsilon=float(model.epsilon),  # type: ignore[arg-type]
        delta=float(delta),  # type: ignore[arg-type]
        share=model.marginal_share,
        accountant=model.accountant,
    )
    return discover_schema(df, noise_multiplier=sigma, rng=rng, code_columns=code_columns, declared=schema)


def _infer_with(df: pd.DataFrame, declared: Schema | None) -> Schema:
    """Non-private inference, keeping the kinds a (kinds-only) declared schema names."""
    inferred = Schema.infer(df)
    if declared is None:
        return inferred
    from ehrsynth.inference import infer_column_as

    return Schema([infer_column_as(c, df[c.name]) for c in declared.columns])


def fit_medgan(
    model: MedGAN,
    df: pd.DataFrame,
    *,
    schema: Schema | None,
    code_columns: Sequence[str],
    delta: float | None,
    rng: np.random.Generator,
    tgen: torch.Generator,
    device: torch.device,
) -> None:
    from ehrsynth.estimator import record_for

    n = len(df)
    run = fingerprint(model.get_params(), n_rows=n)
    ckpt = open_checkpoint(model.checkpoint_dir, run)
    if ckpt is not None:
        extra = ckpt[1]["extra"]
        schema_used = Schema.from_dict(extra["schema"])
        domain_mechs = [mechanism_from_dict(m) for m in extra["domain_mechanisms"]]
    else:
        schema_used, domain_mechs = _resolve_schema(model, df, schema, code_columns, delta, rng)
    if not schema_used.modelled or all(c.kind is Kind.IDENTIFIER for c in schema_used.columns):
        raise InvalidDataError(
            "no column is left to model"
            + (
                ": under differential privacy no code or value was held by enough rows to be released; use "
                "more rows, a larger epsilon, or declare a schema"
                if model.private and schema is None
                else "; every column is an identifier"
            )
        )
    model._build_modules(schema_used, tgen)
    data = torch.as_tensor(model.transformer_.encode(df)).to(device)
    for module in model._modules().values():
        module.to(device)

    schedule = model._schedule(n)
    ae_dp = d_dp = None
    if model.private:
        from ehrsynth.dp.budget import plan_sgd_noise

        plan = plan_sgd_noise(
            schedule,
            epsilon=float(model.epsilon),  # type: ignore[arg-type]
            delta=float(delta),  # type: ignore[arg-type]
            accountant=model.accountant,
            fixed=domain_mechs,
        )
        q = float(schedule.sample_rate)  # type: ignore[arg-type]
        ae_dp = DPPhase(plan.autoencoder.noise_multiplier, q, model.max_grad_norm)
        d_dp = DPPhase(plan.discriminator.noise_multiplier, q, model.max_grad_norm)

    history: dict[str, list[dict[str, float]]] = {"autoencoder": [], "gan": []}
    if ckpt is None:
        history["autoencoder"] = train_autoencoder_phase(model, data, schedule, tgen, ae_dp)
    trainer = model._make_trainer(data, schedule, tgen, d_dp)
    if ckpt is not None:
        extra = restore_trainer(ckpt, modules=model._modules(), trainer=trainer, tgen=tgen, rng=rng)
        history["autoencoder"] = list(extra["autoencoder_history"])

    def save() -> None:
        save_trainer_checkpoint(
            model.checkpoint_dir,  # type: ignore[arg-type]
            modules=model._modules(),
            trainer=trainer,
            tgen=tgen,
            rng=rng,
            fingerprint=run,
            extra={
                "schema": schema_used.to_dict(),
                "domain_mechanisms": [mechanism_to_dict(m) for m in domain_mechs],
                "autoencoder_history": history["autoencoder"],
            },
        )

    on_iteration = checkpoint_hook(
        model.checkpoint_dir, model.checkpoint_every, trainer.config.iterations, save
    )
    try:
        history["gan"] = trainer.run(on_iteration=on_iteration)
    finally:
        trainer.close()
    model._burn_in(tgen, device)
    model.calibration_ = _calibration(model, tgen, device) if model.calibrate_marginals else None

    mechanisms: list[Mechanism] = list(domain_mechs)
    if ae_dp is not None and d_dp is not None:
        mechanisms += [
            PoissonGaussian("autoencoder", ae_dp.noise_multiplier, ae_dp.sample_rate, schedule.ae_steps),
            PoissonGaussian("discriminator", d_dp.noise_multiplier, d_dp.sample_rate, trainer.d_steps_done),
        ]
    model.privacy_ = record_for(model.epsilon, delta, model.accountant, mechanisms)
    model.history_ = history
    model.schedule_ = schedule
    model.n_features_in_ = df.shape[1]
    model.feature_names_in_ = np.asarray(df.columns, dtype=object)
    if model.checkpoint_dir:
        clear_checkpoint(model.checkpoint_dir)


CALIBRATION_ROWS = 20_000


def _calibration(model: MedGAN, tgen: torch.Generator, device: torch.device) -> dict[str, list[Any]] | None:
    """Logit shifts that make the generator's expected 1-way marginals equal the released ones (post-processing
    of the release and of the trained generator: free)."""
    from ehrsynth.dp.marginals import layout_shifts

    target, known = model.transformer_.marginal_targets()
    if not known.any():
        return None
    with torch.inference_mode():
        z = torch.randn(CALIBRATION_ROWS, model.embedding_dim, generator=tgen).to(device)
        logits = model.autoencoder_.decoder(model.generator_(z)).float().cpu().numpy()
    shift = layout_shifts(logits, model.transformer_.layout, target, known)
    return {"shift": shift.tolist()}


def train_autoencoder_phase(
    model: MedGAN, data: torch.Tensor, schedule: Any, tgen: torch.Generator, dp: DPPhase | None
) -> list[dict[str, float]]:
    from ehrsynth.training.autoencoder import train_autoencoder

    if schedule.ae_steps == 0:
        return []
    return train_autoencoder(
        model.autoencoder_,
        data,
        steps=schedule.ae_steps,
        batch_size=schedule.ae_batch_size,
        lr=model.lr,
        weight_decay=model.weight_decay,
        generator=tgen,
        dp=dp,
        progress=model._progress(),
    )
