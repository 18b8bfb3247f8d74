"""Conditional generator/discriminator shapes at every supported size, DP compatibility and the fast paths."""

from __future__ import annotations

import pytest
import torch

from ehrsynth.dp.opacus_wiring import check_dp_compatible, make_private, quiet_hooks
from ehrsynth.errors import InvalidParameterError
from ehrsynth.imaging.accel import Accel, Autocast
from ehrsynth.imaging.models import (
    SUPPORTED_SIZES,
    ConditionalDiscriminator,
    ConditionalGenerator,
    add_spectral_norm,
    choose_size,
    refresh_batchnorm,
    size_plan,
)
from ehrsynth.models.init import init_module


@pytest.mark.parametrize("size", SUPPORTED_SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size(size: int, channels: int) -> None:
    g = ConditionalGenerator(n_classes=3, channels=channels, image_size=size, latent_dim=8, width=4)
    d = ConditionalDiscriminator(n_classes=3, channels=channels, image_size=size, width=4)
    y = torch.tensor([0, 2])
    x = g(torch.randn(2, 8), y)
    assert x.shape == (2, channels, size, size)
    assert float(x.detach().abs().max()) <= 1.0  # tanh output
    assert d(x, y).shape == (2,)


def test_refreshed_batchnorm_makes_samples_independent_of_their_batch() -> None:
    g = ConditionalGenerator(n_classes=2, channels=1, image_size=28, latent_dim=8, width=4)
    gen = torch.Generator().manual_seed(0)
    init_module(g, gen)
    with torch.no_grad():
        for norm in g.norms:
            norm.shift.normal_(generator=gen)  # make the classes differ, as after training
    refresh_batchnorm(g, 2, gen, batches=3, batch_size=32)
    assert not g.training
    z = torch.randn(4, 8, generator=gen)
    with torch.no_grad():
        mixed = g(z, torch.tensor([0, 1, 0, 1]))
        alone = torch.cat([g(z[i : i + 1], torch.tensor([i % 2])) for i in range(4)])
        other = g(z, torch.tensor([1, 1, 1, 1]))
    assert torch.allclose(mixed, alone, atol=1e-6)  # eval mode: fixed statistics, per-image output
    assert not torch.allclose(mixed[0], other[0])  # the label changes the image


def test_size_plan_and_choice() -> None:
    assert size_plan(28) == (7, 2) and size_plan(128) == (4, 5)
    with pytest.raises(InvalidParameterError, match="image_size must be one of"):
        size_plan(30)
    assert (
        choose_size(28) == 28 and choose_size(29) == 28 and choose_size(30) == 32 and choose_size(300) == 128
    )
    assert choose_size(10) == 28


def test_discriminator_is_dp_compatible_and_label_dependent() -> None:
    d = ConditionalDiscriminator(n_classes=2, channels=1, image_size=28, width=8)
    check_dp_compatible(d, "discriminator")  # GroupNorm only, no BatchNorm
    init_module(d, torch.Generator().manual_seed(0))
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(d(x, torch.tensor([0, 0])), d(x, torch.tensor([1, 1])))  # projection term


def test_init_is_seeded_by_the_generator() -> None:
    def build(seed: int) -> torch.Tensor:
        g = ConditionalGenerator(n_classes=2, channels=1, image_size=28, latent_dim=8, width=4)
        init_module(g, torch.Generator().manual_seed(seed))
        return torch.cat([p.detach().flatten() for p in g.parameters()])

    assert torch.equal(build(3), build(3)) and not torch.equal(build(3), build(4))


def test_spectral_norm_bounds_the_weights_and_is_seeded() -> None:
    def build() -> ConditionalDiscriminator:
        d = ConditionalDiscriminator(n_classes=2, channels=1, image_size=28, width=4)
        gen = torch.Generator().manual_seed(0)
        init_module(d, gen)
        return add_spectral_norm(d, gen)  # type: ignore[return-value]

    a, b = build(), build()
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 1, 0])
    assert torch.equal(a.eval()(x, y), b.eval()(x, y))
    for _ in range(30):  # power iterations run in train mode
        a.train()(x, y)
    w = a.linear.weight.detach()
    assert float(torch.linalg.matrix_norm(w, ord=2)) == pytest.approx(1.0, rel=0.05)


def test_opacus_per_sample_clipping_with_channels_last() -> None:
    """One DP step through the shared wiring on a channels_last discriminator bounds each record's gradient."""
    d = ConditionalDiscriminator(n_classes=2, channels=1, image_size=28, width=4)
    init_module(d, torch.Generator().manual_seed(0))
    accel = Accel.resolve("on", torch.device("cpu"), private=True)
    assert accel.channels_last and not accel.autocast  # never bf16 under DP
    accel.module(d)
    opt = torch.optim.SGD(d.parameters(), lr=1.0)
    parts = make_private(
        d,
        opt,
        torch.nn.BCEWithLogitsLoss(),
        noise_multiplier=0.0,
        max_grad_norm=0.01,
        expected_batch_size=4,
        generator=torch.Generator().manual_seed(1),
        name="discriminator",
    )
    before = [p.detach().clone() for p in d.parameters()]
    x = accel.memory(torch.randn(4, 1, 28, 28) * 5)
    with quiet_hooks():
        loss = parts.criterion(
            parts.module(x, torch.tensor([0, 1, 0, 1])), torch.tensor([1.0, 1.0, 0.0, 0.0])
        )
        loss.backward()
    parts.optimizer.step()
    step = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(d.parameters(), before, strict=True)))
    assert 0 < float(step) <= 0.01 + 1e-6  # mean of 4 clipped gradients, each of norm <= 0.01
    parts.close()


def test_autocast_path_runs_on_cpu_when_forced() -> None:
    accel = Accel.resolve("on", torch.device("cpu"), private=False)
    assert accel.autocast and accel.channels_last
    assert not Accel.resolve("auto", torch.device("cpu"), private=False).autocast
    assert Accel.resolve("auto", torch.device("cuda"), private=False).autocast
    d = ConditionalDiscriminator(n_classes=2, channels=3, image_size=32, width=4)
    wrapped = Autocast(accel.module(d), accel)
    inner_dtypes: list[torch.dtype] = []
    d.body[0].register_forward_hook(lambda m, i, o: inner_dtypes.append(o.dtype))
    out = wrapped(torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))
    assert inner_dtypes == [torch.bfloat16] and out.dtype == torch.float32
    with pytest.raises(InvalidParameterError, match="accelerate"):
        Accel.resolve("fast", torch.device("cpu"), private=False)
