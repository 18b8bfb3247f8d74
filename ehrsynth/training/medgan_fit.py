"""The medGAN fitting procedure, a pure function of a frozen config and the data:
resolve schema → encode → 1-way marginal release → build modules → train phases → calibrate → assemble state.

:func:`fit_medgan` dispatches on ``config.engine`` (``"dpsgd"``: DP-SGD medGAN; ``"measure"``: measure-then-fit,
:mod:`ehrsynth.training.medgan_measure`; ``"hybrid"``: DP pair measurements, then DP-SGD medGAN whose generator
loss adds the measured-query loss, :mod:`ehrsynth.training.medgan_hybrid`) and returns a
:class:`~ehrsynth.training.medgan_parts.MedGANState`; it never touches an estimator, so a fit that raises
changes nothing.

Checkpoints (when ``checkpoint_dir`` is set) are written during the GAN phase; a later fit with the same
settings and the same data (a sha256 of the table's content, the declared schema and the code columns)
resumes from the last one with the accountant state (steps done per phase, noise multipliers, sample rate, the
DP schema, the marginal release and their mechanisms) restored, so the final ε equals that of an uninterrupted
run with the same steps, and no budget is spent twice.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from ehrsynth.dp.accounting import Mechanism, PoissonGaussian, mechanism_from_dict, mechanism_to_dict
from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.errors import InvalidDataError, InvalidParameterError
from ehrsynth.schema import Kind, Schema
from ehrsynth.training.adversarial import GeneratorLoss
from ehrsynth.training.checkpoint import (
    checkpoint_hook,
    clear_checkpoint,
    fingerprint,
    open_checkpoint,
    restore_trainer,
    save_trainer_checkpoint,
    table_sha256,
)
from ehrsynth.training.dp_phase import DPPhase
from ehrsynth.training.medgan_parts import (
    ENGINES,
    MedGANConfig,
    MedGANModules,
    MedGANState,
    build_modules,
    burn_in,
    make_trainer,
)
from ehrsynth.training.progress import ProgressCallback
from ehrsynth.training.schedule import Schedule, resolve_schedule
from ehrsynth.transforms.date_gaps import DateGap, DateOrder, gap_column, to_gaps
from ehrsynth.transforms.key_flags import add_flags, dp_flagged, exact_flagged, flag_name, flagged_keys

if TYPE_CHECKING:
    from ehrsynth.dp.date_order import DateRelations

logger = logging.getLogger(__name__)

CALIBRATION_ROWS = 20_000


@dataclass
class _Run:
    """The state of one fit shared by its steps (what a checkpoint saves and a resume restores)."""

    schema: Schema  # with every column's released (DP) or exact 1-way marginal
    fixed: list[Mechanism]  # fixed-noise mechanisms already run (the 1-way marginal release)
    count_sd: float = 0.0  # the 1-way release's noise on one count (0 without DP)
    date_gaps: list[DateGap] = field(default_factory=list)  # dates modelled as gaps (transforms/date_gaps.py)
    #: ordered dates modelled apart: kept in order at sampling
    date_orders: list[DateOrder] = field(default_factory=list)
    history: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {"autoencoder": [], "gan": []})
    resumed: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
    #: the DataFidelityWarning messages of the 1-way release (merged values, cut tails, dropped codes)
    notes: list[str] = field(default_factory=list)

    def extra(self) -> dict[str, Any]:
        return {
            "schema": self.schema.to_dict(),
            "domain_mechanisms": [mechanism_to_dict(m) for m in self.fixed],
            "autoencoder_history": self.history["autoencoder"],
            "date_gaps": [g.to_dict() for g in self.date_gaps],
            "date_orders": [o.to_dict() for o in self.date_orders],
            "release_notes": list(self.notes),
        }


def fit_medgan(
    config: MedGANConfig,
    df: pd.DataFrame,
    *,
    schema: Schema | None,
    code_columns: Sequence[str],
    random_state: int | None,
    device: torch.device,
    progress: ProgressCallback | None = None,
) -> MedGANState:
    """Fit medGAN on ``df`` with ``config``; ``schema``: a declared (public) schema or None."""
    if config.engine not in ENGINES:
        raise InvalidParameterError(f"engine must be one of {ENGINES}, found {config.engine!r}")
    rng = np.random.default_rng(random_state)
    tgen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    declared = None if schema is None else schema.to_dict()
    run_id = fingerprint(
        config.fingerprint(),
        random_state=random_state,
        n_rows=len(df),
        data_sha256=table_sha256(df, declared, list(code_columns)),
    )
    run = _resolve_schema(config, df, schema, code_columns, rng, run_id)
    # what the model sees: later dates as days after their anchor, missing keys as 0/1 flags
    df = add_flags(to_gaps(df, run.date_gaps), flagged_keys(run.schema))
    modules = build_modules(run.schema, config.architecture, tgen)
    data = torch.as_tensor(modules.transformer.encode(df)).to(device)
    for module in modules.as_dict().values():
        module.to(device)
    schedule = _schedule(config, len(df))
    row_sizes: list[float] | None = None  # only the measure engine releases codes per row
    if config.engine == "measure":
        from ehrsynth.training.medgan_measure import fit_measured

        if config.checkpoint_dir:
            warnings.warn(
                f"engine 'measure' does not write checkpoints (it reads the data once, in its releases, and its "
                f"fit is short); checkpoint_dir={config.checkpoint_dir!r} is ignored (use engine='dpsgd' to "
                "checkpoint)",
                UserWarning,
                stacklevel=3,
            )

        sgd, measured, row_sizes = fit_measured(
            config,
            modules,
            data.cpu().numpy(),
            fixed=run.fixed,
            count_sd=run.count_sd,
            rng=rng,
            tgen=tgen,
            progress=progress,
        )
        run.history.update(measured)
    else:
        query_loss = None
        if config.engine == "hybrid":
            query_loss = _measure_for_hybrid(config, modules, data, run, rng)
        sgd = _train(config, modules, data, schedule, run, rng, tgen, run_id, progress, query_loss)
        burn_in(modules.generator, config.architecture.embedding_dim, config.bn_burn_in_batches, tgen, device)
    calibration = _calibration(config, modules, tgen, device)
    dp = config.dp
    privacy = (
        PrivacyRecord.non_private()
        if dp is None
        else PrivacyRecord.composed(dp.epsilon, dp.delta, dp.accountant, [*run.fixed, *sgd])
    )
    if config.checkpoint_dir and config.engine != "hybrid":
        clear_checkpoint(config.checkpoint_dir)
    return MedGANState(
        run.schema,
        modules,
        privacy,
        calibration,
        run.history,
        schedule,
        row_sizes,
        tuple(run.date_gaps),
        tuple(run.date_orders),
        tuple(run.notes),
    )


def _measure_for_hybrid(
    config: MedGANConfig, modules: MedGANModules, data: torch.Tensor, run: _Run, rng: np.random.Generator
) -> GeneratorLoss | None:
    """The hybrid engine's releases (cap, all pairs; added to ``run.fixed`` so the DP-SGD noise is calibrated
    for the total) and its generator-loss term. Hybrid fits do not checkpoint (the released pairs would have
    to be saved and restored with the trainer)."""
    from ehrsynth.training import medgan_hybrid as hybrid

    hybrid.check_settings(config)
    if config.checkpoint_dir:
        warnings.warn(
            f"engine 'hybrid' does not write checkpoints; checkpoint_dir={config.checkpoint_dir!r} is ignored "
            "and the fit runs from the start (use engine='dpsgd' to checkpoint)",
            UserWarning,
            stacklevel=4,
        )
    plan = hybrid.plan_measurements(config.dp, run.fixed, config.hybrid_measure_share)
    measured = hybrid.measure_queries(modules, data.cpu().numpy(), plan=plan, count_sd=run.count_sd, rng=rng)
    run.fixed = [*run.fixed, *measured.mechanisms]
    return hybrid.query_loss(measured, data.device, config.hybrid_query_weight)


def _schedule(config: MedGANConfig, n: int) -> Schedule:
    return resolve_schedule(
        n,
        dp=config.private,
        ae_epochs=config.ae_epochs,
        ae_batch_size=config.ae_batch_size,
        epochs=config.epochs,
        batch_size=config.batch_size,
        d_steps=config.d_steps,
    )


def _resolve_schema(
    config: MedGANConfig,
    df: pd.DataFrame,
    schema: Schema | None,
    code_columns: Sequence[str],
    rng: np.random.Generator,
    run_id: dict[str, Any],
) -> _Run:
    """The schema with every column's 1-way marginal, or the one restored from a checkpoint: under DP one
    release (:mod:`ehrsynth.dp.one_way`) discovers what a declared schema leaves open and sets the calibration
    targets; without DP the marginals are exact."""
    ckpt = open_checkpoint(config.checkpoint_dir, run_id)
    if ckpt is not None:
        extra = ckpt[1]["extra"]
        run = _Run(
            Schema.from_dict(extra["schema"]), [mechanism_from_dict(m) for m in extra["domain_mechanisms"]]
        )
        run.resumed = ckpt
        run.history["autoencoder"] = list(extra["autoencoder_history"])
        run.date_gaps = [DateGap.from_dict(g) for g in extra.get("date_gaps", [])]
        run.date_orders = [DateOrder.from_dict(o) for o in extra.get("date_orders", [])]
        run.notes = [str(m) for m in extra.get("release_notes", [])]
        return run
    if schema is not None:
        schema.validate(df, strict=schema.complete)  # declared: public, charged nothing
    times: dict[str, np.ndarray] = {}
    if config.dp is not None:  # under DP dates are whole days: their time of day is released apart, read here
        from ehrsynth.dp.discovery import date_times  # before the dates become gaps

        times = date_times(df, code_columns, schema)
    # the 1-way release's noise multiplier (None without DP)
    sigma = _one_way_sigma(config, hours=bool(times))
    gaps, orders, gap_mechanisms = _date_gaps(config, df, schema, code_columns, sigma, rng)
    df = to_gaps(df, gaps)
    if sigma is not None and schema is None:  # keys with missing values: a modelled 0/1 flag each
        df = add_flags(df, dp_flagged(df))
    schema = declared_gaps(schema, gaps)
    if sigma is None:  # no DP
        from ehrsynth.transforms.marginals import exact_marginals

        base = schema if schema is not None and schema.complete else _infer_with(df, schema)
        if schema is None:
            base, df = _with_exact_flags(base, df)
        run = _Run(exact_marginals(base, df), [])
    elif schema is not None and schema.complete and not config.calibrate_marginals:
        run = _Run(schema, [])
    else:
        from ehrsynth.dp.discovery import discover_schema

        report: dict[str, float] = {}
        notes: list[str] = []
        released, mechanisms = discover_schema(
            df, noise_multiplier=sigma, rng=rng, code_columns=code_columns, declared=schema, report=report,
            notes=notes, times=times,
        )  # fmt: skip
        run = _Run(released, list(mechanisms), report.get("count_sd", 0.0), notes=notes)
    run.date_gaps, run.date_orders = gaps, orders
    run.fixed = [*run.fixed, *gap_mechanisms]
    if not run.schema.modelled or all(c.kind is Kind.IDENTIFIER for c in run.schema.columns):
        dp_discovered = config.private and schema is None
        raise InvalidDataError(
            "no column is left to model"
            + (
                ": under differential privacy no code or value was held by enough rows to be released; use "
                "more rows, a larger epsilon, or declare a schema"
                if dp_discovered
                else "; every column is an identifier"
            )
        )
    return run


def _date_gaps(
    config: MedGANConfig,
    df: pd.DataFrame,
    declared: Schema | None,
    code_columns: Sequence[str],
    sigma: float | None,
    rng: np.random.Generator,
) -> DateRelations:
    """Which date columns to model as gaps after an earlier one (:mod:`ehrsynth.dp.date_order`): under DP one
    noisy count per pair of date columns, its noise tied to the 1-way release's (``sigma``)."""
    from ehrsynth.dp.date_order import DateRelations, detect_date_gaps
    from ehrsynth.dp.discovery import date_columns

    if not config.date_gaps:
        return DateRelations([], [], [])
    if config.dp is None and declared is None:  # the kinds inference gives: dates come as datetime or text
        texts = [n for n in df.columns if not pd.api.types.is_numeric_dtype(df[n])]
        kinds = {c.name: c.kind for c in Schema.infer(df[texts]).columns} if texts else {}
    elif config.dp is None:
        kinds = {c.name: c.kind for c in _infer_with(df, declared).columns}
    else:  # the dates DP discovery will read: from names, dtypes and the declared schema only
        kinds = dict.fromkeys(date_columns(df, code_columns, declared), Kind.DATETIME)
    dates = [n for n in df.columns if kinds.get(n) is Kind.DATETIME]
    if len(dates) < 2:
        return DateRelations([], [], [])
    return detect_date_gaps(df, dates, noise_multiplier=sigma, rng=rng)


def _one_way_sigma(config: MedGANConfig, *, hours: bool = False) -> float | None:
    if config.dp is None:
        return None
    from ehrsynth.dp.one_way import one_way_noise

    dp = config.dp
    return one_way_noise(
        epsilon=dp.epsilon, delta=dp.delta, share=dp.marginal_share, accountant=dp.accountant, hours=hours
    )


def declared_gaps(schema: Schema | None, gaps: Sequence[DateGap]) -> Schema | None:
    """A declared schema with each gap column declared as its gap (:func:`gap_column`)."""
    if schema is None or not gaps:
        return schema
    names = set(schema.names)
    for g in gaps:
        if g.column in names:
            anchor = schema[g.anchor] if g.anchor in names else None
            schema = schema.replace_column(gap_column(schema[g.column], anchor))
    return schema


def _with_exact_flags(schema: Schema, df: pd.DataFrame) -> tuple[Schema, pd.DataFrame]:
    """Without DP: the inferred ``schema`` and ``df`` with a 0/1 flag after each identifier that has missing
    values (:mod:`ehrsynth.transforms.key_flags`)."""
    keys = exact_flagged(df, schema)
    if not keys:
        return schema, df
    from ehrsynth.inference import infer_column

    df = add_flags(df, keys)
    columns = []
    for col in schema.columns:
        columns.append(col)
        if col.name in keys:
            columns.append(infer_column(flag_name(col.name), df[flag_name(col.name)]))
    return Schema(columns), df


def _infer_with(df: pd.DataFrame, declared: Schema | None) -> Schema:
    """Non-private inference, keeping the kinds a (kinds-only) declared schema names."""
    if declared is None:
        return Schema.infer(df)
    from ehrsynth.inference import infer_column_as

    return Schema([infer_column_as(c, df[c.name]) for c in declared.columns])


def _train(
    config: MedGANConfig,
    modules: MedGANModules,
    data: torch.Tensor,
    schedule: Schedule,
    run: _Run,
    rng: np.random.Generator,
    tgen: torch.Generator,
    run_id: dict[str, Any],
    progress: ProgressCallback | None,
    generator_loss: GeneratorLoss | None = None,
) -> list[Mechanism]:
    """Autoencoder pretraining then the GAN (DP-SGD under DP); returns the DP-SGD mechanisms run.
    ``generator_loss``: an extra generator-loss term (hybrid engine); its fits do not checkpoint."""
    ae_dp = d_dp = None
    if config.dp is not None:
        from ehrsynth.dp.budget import plan_sgd_noise
        from ehrsynth.dp.calibration import Phase

        q = float(schedule.sample_rate or 0.0)
        phases = [
            Phase("autoencoder", q, schedule.ae_steps),
            Phase("discriminator", q, schedule.d_total_steps),
        ]
        plan = plan_sgd_noise(phases, config.dp, fixed=run.fixed)
        sigma = {name: m.noise_multiplier for name, m in plan.phases.items()}
        ae_dp = DPPhase(sigma.get("autoencoder", 1.0), q, config.dp.max_grad_norm)
        d_dp = DPPhase(sigma.get("discriminator", 1.0), q, config.dp.max_grad_norm)
    if run.resumed is None:
        run.history["autoencoder"] = _train_autoencoder(
            config, modules, data, schedule, tgen, ae_dp, progress
        )
    trainer = make_trainer(modules, data, config, schedule, tgen, d_dp, progress, generator_loss)
    if run.resumed is not None:
        restore_trainer(run.resumed, modules=modules.as_dict(), trainer=trainer, tgen=tgen, rng=rng)

    def save() -> None:
        save_trainer_checkpoint(
            str(config.checkpoint_dir),
            modules=modules.as_dict(),
            trainer=trainer,
            tgen=tgen,
            rng=rng,
            fingerprint=run_id,
            extra=run.extra(),
        )

    checkpoint_dir = None if config.engine == "hybrid" else config.checkpoint_dir
    hook: Callable[[int], None] | None = checkpoint_hook(
        checkpoint_dir, config.checkpoint_every, trainer.config.iterations, save
    )
    try:
        run.history["gan"] = trainer.run(on_iteration=hook)
    finally:
        trainer.close()
    if ae_dp is None or d_dp is None:
        return []
    return [
        PoissonGaussian("autoencoder", ae_dp.noise_multiplier, ae_dp.sample_rate, schedule.ae_steps),
        PoissonGaussian("discriminator", d_dp.noise_multiplier, d_dp.sample_rate, trainer.d_steps_done),
    ]


def _train_autoencoder(
    config: MedGANConfig,
    modules: MedGANModules,
    data: torch.Tensor,
    schedule: Schedule,
    tgen: torch.Generator,
    dp: DPPhase | None,
    progress: ProgressCallback | None,
) -> list[dict[str, float]]:
    from ehrsynth.training.autoencoder import train_autoencoder

    if schedule.ae_steps == 0:
        return []
    return train_autoencoder(
        modules.autoencoder,
        data,
        steps=schedule.ae_steps,
        batch_size=schedule.ae_batch_size,
        lr=config.lr,
        weight_decay=config.weight_decay,
        generator=tgen,
        dp=dp,
        progress=progress,
    )


def _calibration(
    config: MedGANConfig, modules: MedGANModules, tgen: torch.Generator, device: torch.device
) -> dict[str, Any] | None:
    """Full-width logit shifts that make the generator's expected 1-way marginals (categories, numeric
    quantile bins, 0/1 shares, missing rates) equal the schema's released ones, and per numeric bin the
    generator's position quantiles, so positions are uniform inside each bin (post-processing: free)."""
    if not config.calibrate_marginals:
        return None
    from ehrsynth.dp.marginals import layout_shifts

    target, known = modules.transformer.marginal_targets()
    if not known.any():
        return None
    latent = config.architecture.embedding_dim
    with torch.inference_mode():
        z = torch.randn(CALIBRATION_ROWS, latent, generator=tgen).to(device)
        logits = modules.autoencoder.decoder(modules.generator(z)).float().cpu().numpy()
    shift = layout_shifts(logits, modules.transformer.layout, target, known)
    with torch.inference_mode():  # positions inside numeric bins, as sampling will draw them
        probs = modules.autoencoder.head.activate(torch.as_tensor(logits + shift, dtype=torch.float32))
    seed = int(torch.randint(0, 2**62, (1,), generator=tgen).item())
    positions = modules.transformer.position_quantiles(probs.numpy(), np.random.default_rng(seed))
    return {"shift": shift.tolist(), "positions": positions}
