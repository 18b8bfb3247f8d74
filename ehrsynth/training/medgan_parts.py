"""What a medGAN fit is made of: its frozen :class:`MedGANConfig`, the modules built from a schema, the
trainer, the BatchNorm burn-in, and the :class:`MedGANState` a fit returns. Used by
:func:`ehrsynth.training.medgan_fit.fit_medgan` and by ``MedGAN.load`` (which rebuilds the modules)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ehrsynth.dp.budget import DPConfig
from ehrsynth.dp.record import PrivacyRecord
from ehrsynth.models.init import init_module
from ehrsynth.models.medgan import Autoencoder, Discriminator, Generator
from ehrsynth.schema import Kind, Schema
from ehrsynth.training.adversarial import AdversarialTrainer, GANConfig, GeneratorLoss
from ehrsynth.training.dp_phase import DPPhase
from ehrsynth.training.progress import ProgressCallback
from ehrsynth.training.schedule import Schedule
from ehrsynth.transforms import TableTransformer
from ehrsynth.transforms.date_gaps import DateGap, DateOrder

ENGINES = ("dpsgd", "measure", "hybrid")  # how the table is learned (see training/medgan_fit.py)
DEFAULT_ENGINE = "measure"  # the best measured (README "Engines"; benchmarks/RESULTS.md engines, fidelity)
#: share of ε for the one 1-way release per engine when ``marginal_share`` is None. measure: 0.45, measured on
#: diabetes 10k × 208 at ε = 1 (benchmarks/RESULTS.md, measure-tuning; three seeds): shares 0.15 / 0.3 / 0.45 /
#: 0.6 / 0.75 gave 2-way TVD 0.0220 / 0.0129 / 0.0097 / 0.0081 / 0.0075 and dimension-wise AUROC 0.591 / 0.600
#: / 0.615 / 0.595 / 0.595: the pairs are worth little once the 1-ways they are fitted around are noisy.
#: dpsgd and hybrid keep 0.3 (not re-measured)
DEFAULT_MARGINAL_SHARE = {"measure": 0.45, "dpsgd": 0.3, "hybrid": 0.3}
#: hybrid engine: share of the ε left after the 1-way release spent on the pair measurements (composed ε)
HYBRID_MEASURE_SHARE = 0.8
#: hybrid engine: λ, weight of the measured-query loss in the generator loss (as λ · log L; medgan_hybrid.py)
HYBRID_QUERY_WEIGHT = 10.0


@dataclass(frozen=True)
class Architecture:
    data_type: str  # 'auto' | 'binary' | 'count'
    embedding_dim: int
    generator_dims: tuple[int, ...]
    discriminator_dims: tuple[int, ...]
    minibatch_averaging: bool  # resolved: never True under DP

    def hidden_activation(self, schema: Schema) -> str:
        data_type = self.data_type
        if data_type == "auto":
            modelled = schema.modelled
            data_type = "count" if modelled and all(c.kind is Kind.COUNT for c in modelled) else "binary"
        return "relu" if data_type == "count" else "tanh"


@dataclass(frozen=True)
class MedGANConfig:
    """Everything a fit needs besides the data and the random generators, resolved and validated."""

    architecture: Architecture
    ae_epochs: int | None
    ae_batch_size: int | None
    epochs: int | None
    batch_size: int | None
    d_steps: int
    lr: float
    weight_decay: float
    bn_burn_in_batches: int
    calibrate_marginals: bool
    max_codes_per_row: int
    dp: DPConfig | None  # None: no differential privacy
    checkpoint_dir: str | None = None
    checkpoint_every: int = 50
    engine: str = DEFAULT_ENGINE  # how the table is learned; fit_medgan dispatches on it
    query_steps: int | None = None  # engine "measure": Adam steps of the query fit (None: QueryFitConfig's)
    date_gaps: bool = True  # dates that follow another modelled as gaps (transforms/date_gaps.py)
    hybrid_measure_share: float = HYBRID_MEASURE_SHARE  # engine "hybrid" only (training/medgan_hybrid.py)
    hybrid_query_weight: float = HYBRID_QUERY_WEIGHT  # engine "hybrid" only: λ

    @property
    def private(self) -> bool:
        return self.dp is not None

    def fingerprint(self) -> dict[str, Any]:
        """The settings a checkpoint must have been made with (JSON values; no run-time-only fields)."""
        out = asdict(self)
        out.pop("checkpoint_dir")
        return out


@dataclass
class MedGANModules:
    transformer: TableTransformer
    autoencoder: Autoencoder
    generator: Generator
    discriminator: Discriminator

    def as_dict(self) -> dict[str, nn.Module]:
        """The modules saved in weights.safetensors and checkpoints, by prefix."""
        return {
            "autoencoder": self.autoencoder,
            "generator": self.generator,
            "discriminator": self.discriminator,
        }


@dataclass(frozen=True)
class MedGANState:
    """What a fit produced; the estimator assigns its fitted attributes from it, at the very end."""

    schema: Schema
    modules: MedGANModules
    privacy: PrivacyRecord
    calibration: dict[str, Any] | None
    history: dict[str, list[dict[str, float]]]
    schedule: Schedule
    #: released (or, without DP, exact) frequencies of 0, 1, … free ones per row that sampling matches
    #: (training/row_sizes.py); None: plain sampling (engines that release no such histogram)
    row_sizes: list[float] | None = None
    #: date columns modelled as days after an earlier one (transforms/date_gaps.py), rebuilt after sampling
    date_gaps: tuple[DateGap, ...] = ()
    #: ordered dates modelled apart (too far apart for a gap): sampling redraws rows that break them
    date_orders: tuple[DateOrder, ...] = ()
    #: what the DP 1-way release lost, in words (its DataFidelityWarning messages); empty without DP
    release_notes: tuple[str, ...] = ()


def build_modules(schema: Schema, arch: Architecture, tgen: torch.Generator | None = None) -> MedGANModules:
    """The transformer and the three modules for ``schema`` (initialised from ``tgen`` when given)."""
    transformer = TableTransformer(schema)
    act = arch.hidden_activation(schema)
    modules = MedGANModules(
        transformer=transformer,
        autoencoder=Autoencoder(transformer.layout, arch.embedding_dim, act),
        generator=Generator(arch.embedding_dim, arch.generator_dims, act),
        discriminator=Discriminator(transformer.width, arch.discriminator_dims, arch.minibatch_averaging),
    )
    if tgen is not None:
        for module in modules.as_dict().values():
            init_module(module, tgen)
    return modules


def make_trainer(
    modules: MedGANModules,
    data: torch.Tensor,
    config: MedGANConfig,
    schedule: Schedule,
    tgen: torch.Generator,
    dp: DPPhase | None,
    progress: ProgressCallback | None,
    generator_loss: GeneratorLoss | None = None,
) -> AdversarialTrainer:
    """The GAN phase's trainer; ``generator_loss``: an extra generator-loss term on the generated batch (the
    decoder's probabilities, full width), e.g. the hybrid engine's query loss."""
    ae, gen = modules.autoencoder, modules.generator
    latent = config.architecture.embedding_dim

    def generate(n: int, labels: torch.Tensor | None) -> torch.Tensor:
        z = torch.randn(n, latent, generator=tgen).to(data.device)
        return ae.decode(gen(z))

    gan = GANConfig(
        iterations=schedule.gan_iterations,
        d_steps=schedule.d_steps,
        batch_size=schedule.batch_size,
        lr=config.lr,
        weight_decay=config.weight_decay,
        fake_batch_stats=True,  # see GANConfig: 0.17 -> 0.85 correlation r on a block-structured table
    )
    return AdversarialTrainer(
        generator_module=nn.ModuleList([gen, ae.decoder]),
        generate=generate,
        discriminator=modules.discriminator,
        real=data,
        config=gan,
        torch_generator=tgen,
        dp=dp,
        progress=progress,
        generator_loss=generator_loss,
    )


@torch.no_grad()
def burn_in(
    generator: Generator, latent: int, batches: int, tgen: torch.Generator, device: torch.device
) -> None:
    """Refresh the generator's BatchNorm running statistics with batch statistics, then freeze them."""
    bns = [m for m in generator.modules() if isinstance(m, nn.BatchNorm1d)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the burn-in batches
    generator.train()
    for _ in range(batches):
        generator(torch.randn(1000, latent, generator=tgen).to(device))
    for bn, momentum in zip(bns, momenta, strict=True):
        bn.momentum = momentum
    generator.eval()
