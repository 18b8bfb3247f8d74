"""MedGAN: the scikit-learn style estimator (fit a table, sample synthetic rows, save/load a model directory).

DP is on by default (ε = 3). ``epsilon=None`` trains without differential privacy: no guarantee holds then.
See :mod:`ehrsynth.training.schedule` for the default schedules, :mod:`ehrsynth.dp.budget` for how one
(ε, δ) budget covers every phase, and :mod:`ehrsynth.training.medgan_fit` for the fit procedure.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.dp.unit import DEFAULT_PRIVACY_UNIT, check_privacy_unit, check_unit_name
from ehrsynth.errors import (
    InvalidParameterError,
    NoPrivacyWarning,
    NotFittedError,
    PrivacyBudgetError,
)
from ehrsynth.inference import check_frame
from ehrsynth.io.model_dir import write_model_dir
from ehrsynth.medgan_files import (
    LONG_INPUT,
    SCHEMA_FILE,
    check_long_input,
    schema_source,
)
from ehrsynth.models.medgan import Autoencoder, Discriminator, Generator
from ehrsynth.params import (
    PRIVACY_CONSTRAINTS,
    RUN_CONSTRAINTS,
    Boolean,
    Constraint,
    Estimator,
    Integer,
    Options,
    Real,
    Sizes,
)
from ehrsynth.schema import Schema
from ehrsynth.training.device import resolve_device
from ehrsynth.training.medgan_parts import (
    DEFAULT_ENGINE,
    DEFAULT_MARGINAL_SHARE,
    ENGINES,
    Architecture,
    MedGANConfig,
    MedGANState,
)
from ehrsynth.training.progress import ProgressCallback, TqdmProgress
from ehrsynth.training.schedule import Schedule
from ehrsynth.transforms import TableTransformer
from ehrsynth.transforms.date_gaps import DateGap, DateOrder, from_gaps, keep_order, to_gaps
from ehrsynth.transforms.key_flags import add_flags, apply_flags, flagged_keys
from ehrsynth.transforms.table import renumber_identifiers
from ehrsynth.transforms.times import add_times

__all__ = [
    "MedGAN",
    "NoPrivacyWarning",
    "load",
    "resolve_device",
]  # the last two re-exported for compatibility

logger = logging.getLogger(__name__)

MIN_ROWS = 10
MIN_DP_ROWS = 100
SAMPLE_BATCH = 50_000


class MedGAN(Estimator):
    """medGAN (Choi et al. 2017) for mixed EHR tables: its generator + decoder fitted to DP-measured marginals by
    default (``engine="measure"``), or trained with DP-SGD (``"dpsgd"``) or both (``"hybrid"``).

    Parameters (flat; ``None`` schedule values take the non-private reference or the DP default):
    epsilon, delta, accountant: the privacy budget (``epsilon=None``: no DP); δ defaults to
    ``ehrsynth.dp.accounting.default_delta(n)`` (below 1/n). engine: ``"measure"`` (the default;
    measure-then-fit: DP releases of all pairs, then the generator and decoder fitted to them; no DP-SGD;
    :mod:`ehrsynth.training.medgan_measure`), ``"dpsgd"`` (the medGAN GAN trained with DP-SGD) or ``"hybrid"`` (a DP release
    of all pairs, then the DP-SGD GAN whose generator loss adds the error to those pairs; the budget split
    between them; :mod:`ehrsynth.training.medgan_hybrid`). marginal_share: the share of ε for the one DP
    release of every column's 1-way marginal (:mod:`ehrsynth.dp.one_way`), which discovers what a declared
    schema leaves open (categories, numeric distributions, missing rates) and sets the calibration targets
    (None: 0.45 for ``"measure"``, 0.3 for the others; ``DEFAULT_MARGINAL_SHARE`` in
    :mod:`ehrsynth.training.medgan_parts`).
    calibrate_marginals: after training, shift the generator's logits so every column's expected 1-way
    marginal (categories, numeric quantile bins, 0/1 shares, missing rates) equals the released one (without
    DP: the exact one). With a complete declared schema, False also skips the 1-way release; the
    ``"measure"`` engine then measures the 1-ways the schema does not declare in its own budget. date_gaps: model
    a date that follows another date within a year in nearly every row as its days after it (discharge after
    admission; :mod:`ehrsynth.transforms.date_gaps`, chosen by a DP count, :mod:`ehrsynth.dp.date_order`);
    False models every date on its own. max_codes_per_row: unused since the release bounds rows itself (kept so saved
    models load). max_grad_norm: DP-SGD clipping norm. query_steps: ``"measure"`` engine only, Adam steps fitting
    the generator + decoder to the measured answers (None: 1,500; the fit's cost grows with the steps and the
    number of codes, never with the rows).
    data_type: 'binary' (tanh hidden units) or 'count' (ReLU); 'auto' picks 'count' when every modelled column
    is a count. embedding_dim, generator_dims (each equal to embedding_dim: residual blocks),
    discriminator_dims: architecture (reference: 128, (128, 128), (256, 128)). ae_epochs, ae_batch_size,
    epochs, batch_size, d_steps, lr, weight_decay: schedule and optimiser. minibatch_averaging: None = on
    without DP, off with DP (on with DP is an error). device: 'auto' | 'cpu' | 'cuda'. random_state: int or
    None. verbose: tqdm progress on stderr. progress: a callback receiving
    :class:`~ehrsynth.training.progress.ProgressEvent` s. checkpoint_dir, checkpoint_every: save training
    state every N GAN iterations and resume from it.

    Fitted attributes: ``schema_`` (the released schema under DP), ``feature_names_in_`` / ``n_features_in_``
    (the schema's column names — under DP only released columns, so no unreleased code name is kept),
    ``privacy_``, ``history_`` (under DP: step counts and generator losses only, see README), ``schedule_``,
    ``calibration_``, ``row_sizes_`` (engine 'measure': the released frequencies of 0, 1, … codes and
    missing flags per row that :meth:`sample` keeps, :mod:`ehrsynth.training.row_sizes`; None otherwise),
    ``date_gaps_`` (dates modelled as days after an earlier date, :mod:`ehrsynth.transforms.date_gaps`;
    ``schema_`` describes them as those days), ``date_orders_`` (dates in order but modelled apart: sampling
    redraws rows that break them), ``release_notes_`` (the DataFidelityWarning messages of the DP release:
    merged values, cut tails, dropped codes; written into sidecars; empty without DP), the modules and
    ``transformer_``.
    """

    _constraints: ClassVar[dict[str, Constraint]] = {
        **PRIVACY_CONSTRAINTS,
        "engine": Options(ENGINES),
        "query_steps": Integer(1, optional=True),
        "calibrate_marginals": Boolean(),
        "date_gaps": Boolean(),
        "marginal_share": Real(0, 1, optional=True),
        "max_codes_per_row": Integer(1),
        "data_type": Options(("auto", "binary", "count")),
        "embedding_dim": Integer(1),
        "generator_dims": Sizes(),
        "discriminator_dims": Sizes(),
        "ae_epochs": Integer(0, optional=True),
        "ae_batch_size": Integer(1, optional=True),
        "epochs": Integer(0, optional=True),
        "batch_size": Integer(1, optional=True),
        "d_steps": Integer(1),
        "lr": Real(0),
        "weight_decay": Real(0, closed="left"),
        "minibatch_averaging": Boolean(optional=True),
        "bn_burn_in_batches": Integer(0),
        **RUN_CONSTRAINTS,
    }

    # fitted attributes (set by fit or load)
    schema_: Schema
    transformer_: TableTransformer
    autoencoder_: Autoencoder
    generator_: Generator
    discriminator_: Discriminator
    privacy_: PrivacyRecord
    calibration_: dict[str, Any] | None
    row_sizes_: list[float] | None
    date_gaps_: tuple[DateGap, ...]
    date_orders_: tuple[DateOrder, ...]
    release_notes_: list[str]
    history_: dict[str, list[dict[str, float]]]
    schedule_: Schedule
    n_features_in_: int
    feature_names_in_: np.ndarray
    long_input_: dict[str, Any] | None  # set by load: the long (patient, code) layout saved with the model

    def __init__(
        self,
        *,
        epsilon: float | None = 3.0,
        delta: float | None = None,
        accountant: str = "prv",
        engine: str = DEFAULT_ENGINE,
        query_steps: int | None = None,
        calibrate_marginals: bool = True,
        marginal_share: float | None = None,
        date_gaps: bool = True,
        max_codes_per_row: int = 32,
        max_grad_norm: float = 1.0,
        data_type: str = "auto",
        embedding_dim: int = 128,
        generator_dims: Sequence[int] = (128, 128),
        discriminator_dims: Sequence[int] = (256, 128),
        ae_epochs: int | None = None,
        ae_batch_size: int | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        d_steps: int = 2,
        lr: float = 1e-3,
        weight_decay: float = 1e-3,
        minibatch_averaging: bool | None = None,
        bn_burn_in_batches: int = 20,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
        progress: ProgressCallback | None = None,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 50,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.accountant = accountant
        self.engine = engine
        self.query_steps = query_steps
        self.calibrate_marginals = calibrate_marginals
        self.marginal_share = marginal_share
        self.date_gaps = date_gaps
        self.max_codes_per_row = max_codes_per_row
        self.max_grad_norm = max_grad_norm
        self.data_type = data_type
        self.embedding_dim = embedding_dim
        self.generator_dims = generator_dims
        self.discriminator_dims = discriminator_dims
        self.ae_epochs = ae_epochs
        self.ae_batch_size = ae_batch_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.d_steps = d_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.minibatch_averaging = minibatch_averaging
        self.bn_burn_in_batches = bn_burn_in_batches
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    # -- validation ----------------------------------------------------------------------------------------
    def _check_all_params(self) -> torch.device:
        """Every parameter, alone (``_constraints``) and together; before any data is read."""
        self._check_params()
        if any(d != self.embedding_dim for d in self.generator_dims):
            raise InvalidParameterError(
                f"generator_dims must all equal embedding_dim = {self.embedding_dim} (the generator is made of "
                f"residual blocks), found {tuple(self.generator_dims)!r}"
            )
        if self.private and self.minibatch_averaging:
            raise InvalidParameterError(
                "minibatch averaging is incompatible with DP-SGD (each row's discriminator output depends on "
                "the whole batch, so per-sample clipping does not bound one record's influence); set "
                "minibatch_averaging=False, or epsilon=None to train without DP"
            )
        return resolve_device(self.device)

    def _architecture(self) -> Architecture:
        mba = (not self.private) if self.minibatch_averaging is None else bool(self.minibatch_averaging)
        return Architecture(
            self.data_type,
            int(self.embedding_dim),
            tuple(self.generator_dims),
            tuple(self.discriminator_dims),
            mba,
        )

    def _config(self, n: int) -> MedGANConfig:
        share = DEFAULT_MARGINAL_SHARE[self.engine] if self.marginal_share is None else self.marginal_share
        dp = self._dp_config(n, min_rows=MIN_DP_ROWS, marginal_share=float(share))
        return MedGANConfig(
            architecture=self._architecture(),
            ae_epochs=self.ae_epochs,
            ae_batch_size=self.ae_batch_size,
            epochs=self.epochs,
            batch_size=self.batch_size,
            d_steps=int(self.d_steps),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            bn_burn_in_batches=int(self.bn_burn_in_batches),
            calibrate_marginals=bool(self.calibrate_marginals),
            max_codes_per_row=int(self.max_codes_per_row),
            dp=dp,
            checkpoint_dir=self.checkpoint_dir,
            checkpoint_every=int(self.checkpoint_every),
            engine=str(self.engine),
            query_steps=None if self.query_steps is None else int(self.query_steps),
            date_gaps=bool(self.date_gaps),
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise NotFittedError("this MedGAN is not fitted yet; call fit(df) first or load a saved model")

    def _progress(self) -> ProgressCallback | None:
        if self.progress is not None:
            return self.progress
        return TqdmProgress() if self.verbose else None

    # -- fit -----------------------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: Any = None,
        *,
        schema: Schema | None = None,
        code_columns: Sequence[str] = (),
        schema_is_public: bool = False,
        privacy_unit: str = DEFAULT_PRIVACY_UNIT,
    ) -> MedGAN:
        """Fit on a table. ``schema``: a declared (public) schema — kinds only, or with categories/bounds —
        validated against the data and charged nothing; what it leaves open is inferred (no DP) or released by
        the DP 1-way release (DP). A schema derived from the data (``ehrsynth schema --with-values``) is refused
        under DP unless ``schema_is_public=True`` states that its values are public knowledge. ``code_columns``:
        wide columns that came from a long (patient, code) table, whose vocabulary is itself data.
        ``privacy_unit``: under DP, 'patient' (default) refuses a table in which a column named as a patient or
        visit key (``patient_nbr``, ``subject_id``, ``hadm_id``…) repeats, since the guarantee covers one row;
        'row' accepts that and records it (privacy.json ``privacy_unit``, ``release_notes_``;
        :mod:`ehrsynth.dp.unit`). A fit that raises leaves the estimator as it was."""
        device = self._check_all_params()
        check_unit_name(privacy_unit)
        if self.private and schema is not None and schema.data_derived and not schema_is_public:
            raise PrivacyBudgetError(
                "the schema was derived from the data (it lists values and bounds read from the table, e.g. by "
                "`ehrsynth schema --with-values`), so using it under differential privacy would publish them "
                "without a guarantee; use a kinds-only schema (`ehrsynth schema` without --with-values), or pass "
                "schema_is_public=True (CLI: --schema-is-public) if those values are public knowledge"
            )
        df = check_frame(X, min_rows=MIN_ROWS, what="training table")
        unit_notes = check_privacy_unit(df, privacy_unit) if self.private else []
        config = self._config(len(df))
        if not self.private:
            warnings.warn(
                "training WITHOUT differential privacy: no privacy guarantee holds for this model or its output",
                NoPrivacyWarning,
                stacklevel=2,
            )
        from ehrsynth.training.medgan_fit import fit_medgan

        state = fit_medgan(
            config,
            df,
            schema=schema,
            code_columns=code_columns,
            random_state=self.random_state,
            device=device,
            progress=self._progress(),
        )
        if state.privacy.private:
            state.privacy.schema_source = schema_source(schema)
            if privacy_unit == "row":
                state.privacy.privacy_unit = "row"
            state = dataclasses.replace(state, release_notes=(*unit_notes, *state.release_notes))
        self._set_state(state)
        return self

    def _set_state(self, state: MedGANState) -> None:
        """Assign every fitted attribute from ``state`` (the last step of fit and load)."""
        modules = state.modules
        self.schema_ = state.schema
        self.transformer_ = modules.transformer
        self.autoencoder_ = modules.autoencoder
        self.generator_ = modules.generator
        self.discriminator_ = modules.discriminator
        self.privacy_ = state.privacy
        self.calibration_ = state.calibration
        self.row_sizes_ = state.row_sizes
        self.date_gaps_ = state.date_gaps
        self.date_orders_ = state.date_orders
        self.release_notes_ = list(state.release_notes)
        self.history_ = state.history
        self.schedule_ = state.schedule
        names = [c.name for c in state.schema.columns]  # released/declared columns only (issue 13.1)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.long_input_ = getattr(self, "long_input_", None)

    # -- sample --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        random_state: int | np.random.Generator | None = None,
        *,
        match_row_sizes: bool = False,
    ) -> pd.DataFrame:
        """Draw ``n`` synthetic rows (post-processing: spends no privacy budget).

        ``match_row_sizes``: False (default) draws every code independently given the generator's output, as
        medGAN samples, so the count of codes per row comes out far wider than the real one. True keeps the
        histogram of codes (and missing flags) per row that the fit kept (``row_sizes_``, engine 'measure';
        :mod:`ehrsynth.training.row_sizes`), at some cost to the learnt dependence (README, *Engines*); plain
        draws where no histogram was kept (other engines, older model directories). Rows that break a date
        order (``date_orders_``) are replaced by fresh plain draws that keep it."""
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidParameterError(f"n must be a positive integer, found {n!r}")
        rng = np.random.default_rng(random_state)
        tgen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        sizes = getattr(self, "row_sizes_", None) if match_row_sizes else None
        if sizes is None:
            matrix = self._probabilities(n, tgen)
        else:  # rows kept at the released number of codes per row (training/row_sizes.py)
            from ehrsynth.training import row_sizes

            matrix = row_sizes.match_row_sizes(
                lambda m: row_sizes.draw_free_units(self.transformer_, self._probabilities(m, tgen), rng),
                n,
                row_sizes.size_target(sizes),
                rng,
                chunk=SAMPLE_BATCH,
            )
        maps = (getattr(self, "calibration_", None) or {}).get("positions")

        def decode(probs: np.ndarray) -> pd.DataFrame:
            out = from_gaps(
                self.transformer_.decode(probs, random_state=rng, position_maps=maps), self.date_gaps_
            )
            out = add_times(out, self.schema_, self.date_gaps_, rng)  # DP dates: their released times
            return apply_flags(out, self.schema_)  # keys blanked where their missing flag is set

        out = decode(matrix)
        if getattr(self, "date_orders_", ()):  # rows with a date before the one it follows are redrawn
            out, left = keep_order(out, self.date_orders_, lambda m: decode(self._probabilities(m, tgen)))
            if left:
                logger.warning("%d sampled rows still break a date order after redrawing", left)
            out = renumber_identifiers(out, self.schema_)
        from ehrsynth.io.synthetic import provenance

        out.attrs["ehrsynth"] = provenance(self)
        return out

    def as_modelled(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` (real or synthetic, in the input's form) as the model sees it: each date of ``date_gaps_``
        as days after its anchor (what ``schema_`` describes and ``transformer_`` encodes)."""
        self._check_fitted()
        return add_flags(to_gaps(df, getattr(self, "date_gaps_", ())), flagged_keys(self.schema_))

    def _probabilities(self, n: int, tgen: torch.Generator) -> np.ndarray:
        """The decoder's (calibrated) probabilities / scaled values for ``n`` fresh latent vectors."""
        device = next(self.generator_.parameters()).device
        self.generator_.eval()
        self.autoencoder_.eval()
        shift = self._logit_shift(device)
        ae = self.autoencoder_
        latent = int(self.embedding_dim)
        parts = []
        with torch.inference_mode():  # no autograd graph: ~2x faster and far less memory
            for start in range(0, n, SAMPLE_BATCH):
                m = min(SAMPLE_BATCH, n - start)
                z = torch.randn(m, latent, generator=tgen).to(device)
                logits = ae.decoder(self.generator_(z))
                if shift is not None:  # marginal calibration: logit + b, then sigmoid / softmax
                    logits = logits + shift
                parts.append(ae.head.activate(logits).float().cpu().numpy())
        return np.concatenate(parts, axis=0)

    def _logit_shift(self, device: torch.device) -> torch.Tensor | None:
        """The calibration's full-width logit shifts (zero on position units)."""
        calibration = getattr(self, "calibration_", None)
        if not calibration:
            return None
        return torch.as_tensor(calibration["shift"], dtype=torch.float32).to(device)

    # -- persistence ---------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, long_input: dict[str, Any] | None = None) -> None:
        """Write a model directory (:mod:`ehrsynth.io.model_dir`: config.json, privacy.json, schema.json,
        weights, manifest). ``long_input``: how a long (patient, code) input was laid out (the CLI's ``--long``
        options), saved as ``long_input.json`` inside the manifest; default: the loaded one."""
        self._check_fitted()
        layout = long_input if long_input is not None else getattr(self, "long_input_", None)
        extra: dict[str, Any] = {SCHEMA_FILE: self.schema_.to_dict()}
        if layout is not None:
            extra[LONG_INPUT] = check_long_input(dict(layout))
        write_model_dir(
            path,
            estimator=type(self).__name__,
            params=self._saved_params(),
            fitted={
                "n_features_in": int(self.n_features_in_),
                "feature_names_in": [str(c) for c in self.feature_names_in_],
                "schedule": dataclasses.asdict(self.schedule_),
                "calibration": getattr(self, "calibration_", None),
                "row_sizes": getattr(self, "row_sizes_", None),
                "date_gaps": [g.to_dict() for g in getattr(self, "date_gaps_", ())],
                "date_orders": [o.to_dict() for o in getattr(self, "date_orders_", ())],
                "release_notes": list(getattr(self, "release_notes_", ())),
            },
            history=self.history_,
            modules={
                "autoencoder": self.autoencoder_,
                "generator": self.generator_,
                "discriminator": self.discriminator_,
            },
            privacy=self.privacy_,
            extra_json=extra,
        )


# -- model directories ---------------------------------------------------------------------------------------
def load(path: str | os.PathLike[str], *, device: str = "cpu") -> MedGAN:
    """Load a model directory saved with :meth:`MedGAN.save` (:func:`ehrsynth.medgan_load.load_medgan`: the
    manifest is verified first, then every file is validated)."""
    from ehrsynth.medgan_load import load_medgan

    return load_medgan(path, device=device)
