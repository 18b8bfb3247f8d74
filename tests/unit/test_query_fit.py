"""Fitting medGAN's generator + decoder to measured queries: feasible targets, the fit, BatchNorm refresh."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.sparse_marginals import IndicatorLayout, indicator_matrix, pair_counts
from ehrsynth.errors import InvalidParameterError
from ehrsynth.models.medgan import Autoencoder, Generator
from ehrsynth.training.query_fit import (
    MeasuredQueries,
    QueryFitConfig,
    QueryTargets,
    fit_queries,
    indicator_probabilities,
    init_decoder_bias,
    posterior_pair_variance,
    project,
    refresh_batchnorm,
    shrink_pairs,
    spectral_pairs,
)
from ehrsynth.transforms.layout import Span, SpanKind

LAYOUT = [
    Span("sex", SpanKind.SOFTMAX, 0, 2),
    Span("dx_a", SpanKind.BINARY, 2, 1),
    Span("dx_b", SpanKind.BINARY, 3, 1),
    Span("lab", SpanKind.SCALED, 4, 1),
    Span("dx_c", SpanKind.BINARY, 5, 1),
]
IND = IndicatorLayout.from_layout(LAYOUT)


def _data(n: int, seed: int) -> np.ndarray:
    """sex F → dx_a and dx_b together (p 0.7), sex M → dx_c (p 0.6); a scaled unit that is not measured."""
    rng = np.random.default_rng(seed)
    male = rng.random(n) < 0.5
    X = np.zeros((n, 6), dtype=np.float32)
    X[:, 0], X[:, 1] = ~male, male
    both = ~male & (rng.random(n) < 0.7)
    X[:, 2], X[:, 3] = both, both | (rng.random(n) < 0.05)
    X[:, 4] = rng.random(n)
    X[:, 5] = male & (rng.random(n) < 0.6)
    return X


def _queries(X: np.ndarray, sd: float = 0.0, seed: int = 0) -> MeasuredQueries:
    M = indicator_matrix(X, IND)
    n = len(X)
    rng = np.random.default_rng(seed)
    one = np.asarray(M.sum(axis=0)).ravel() / n + rng.normal(0, sd, IND.size)
    mask = IND.pair_mask()
    upper = np.where(mask, pair_counts(M) / n + rng.normal(0, sd, (IND.size, IND.size)), 0.0)
    return MeasuredQueries(IND.units, IND.blocks, n, one, np.full(IND.size, sd), upper + upper.T, sd, mask)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), sd=st.floats(0.0, 0.5))
def test_projected_targets_are_feasible(seed: int, sd: float) -> None:
    q = project(_queries(_data(50, seed), sd=sd, seed=seed))
    p = q.one_way
    assert np.all((p >= 0) & (p <= 1))
    assert p[:2].sum() == pytest.approx(1.0)  # a softmax block's frequencies sum to one
    mask = q.pair_mask
    pa, pb = np.broadcast_to(p[:, None], mask.shape)[mask], np.broadcast_to(p[None, :], mask.shape)[mask]
    pairs = q.pairs[mask]
    assert np.all(pairs <= np.minimum(pa, pb) + 1e-12) and np.all(pairs >= np.maximum(0, pa + pb - 1) - 1e-12)


def _modules(seed: int) -> tuple[Generator, Autoencoder, torch.Generator]:
    torch.manual_seed(seed)  # module init only; the fit itself draws from the explicit generator
    return Generator(32, (32,), "tanh"), Autoencoder(LAYOUT, code_dim=32), torch.Generator().manual_seed(seed)


def test_fit_reproduces_exact_pairs() -> None:
    X = _data(4000, 0)
    q = _queries(X)
    gen, ae, tg = _modules(0)
    init_decoder_bias(ae, q)
    cfg = QueryFitConfig(batch=512, steps=250, lr=1e-2, log_every=50)
    hist = fit_queries(gen, ae, q, config=cfg, generator_rng=tg)
    assert hist[-1]["loss"] < hist[0]["loss"] / 5
    refresh_batchnorm(gen, tg)
    ae.eval()
    with torch.no_grad():
        P = indicator_probabilities(
            gen, ae, torch.randn(20_000, 32, generator=tg), torch.as_tensor(IND.units)
        )
    P = P.double().numpy()
    fitted = P.T @ P / len(P)
    target = project(q).pairs
    mask = q.pair_mask
    assert np.abs(P.mean(0) - q.one_way).max() < 0.03
    assert np.abs(fitted - target)[mask].max() < 0.03
    # the planted dependence: P(dx_a & dx_b) ≈ 0.35 against ≈ 0.37 * 0.38 ≈ 0.14 under independence
    assert fitted[2, 3] > 0.28 and fitted[0, 4] < 0.02  # and no dx_c among women


def test_init_decoder_bias_starts_at_the_one_way_answers() -> None:
    q = _queries(_data(1000, 1))
    gen, ae, tg = _modules(1)
    with torch.no_grad():
        ae.decoder.weight.zero_()
    init_decoder_bias(ae, q)
    P = indicator_probabilities(gen, ae, torch.randn(8, 32, generator=tg), torch.as_tensor(IND.units))
    assert np.allclose(P.detach().numpy()[0], np.clip(project(q).one_way, 1e-6, 1 - 1e-6), atol=1e-5)


def test_refresh_batchnorm_leaves_eval_mode_and_fresh_stats() -> None:
    gen, _, tg = _modules(2)
    refresh_batchnorm(gen, tg, batches=3, batch=256)
    assert not gen.training
    bn = gen.blocks[0].bn
    assert bn.momentum == pytest.approx(0.01) and int(bn.num_batches_tracked) == 3


@pytest.mark.parametrize("bad", [{"batch": 0}, {"steps": 1.5}, {"lr": 0.0}, {"resample_every": -1}])
def test_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterError):
        QueryFitConfig(**bad)  # type: ignore[arg-type]


def test_shrink_pairs_removes_noise_and_keeps_strong_dependence() -> None:
    rng = np.random.default_rng(0)
    u = 60
    blocks = np.arange(u)
    p = rng.uniform(0.01, 0.3, u)
    true = np.outer(p, p)
    true[0, 1] = true[1, 0] = min(p[0], p[1])  # one strongly dependent pair
    mask = np.triu(np.ones((u, u), dtype=bool), 1)
    sd = 0.01
    noise = np.triu(rng.normal(0, sd, (u, u)), 1)
    q = MeasuredQueries(np.arange(u), blocks, 10_000, p, np.zeros(u), true + noise + noise.T, sd, mask)
    shrunk = shrink_pairs(q)
    err_before = np.abs(q.pairs - true)[mask].mean()
    err_after = np.abs(shrunk.pairs - true)[mask].mean()
    assert err_after < err_before / 3
    assert np.allclose(shrunk.pairs, shrunk.pairs.T)
    exact = replace(q, pair_sd=0.0)
    assert shrink_pairs(exact) is exact


def test_spectral_pairs_recovers_a_planted_low_rank_residual() -> None:
    rng = np.random.default_rng(1)
    u, sd = 120, 0.002
    p = rng.uniform(0.05, 0.3, u)
    v = rng.normal(0, 1, (u, 2)) / np.sqrt(u)
    low = (
        v * np.array([0.08, -0.05])
    ) @ v.T  # rank-2 residual, eigenvalues well above the noise edge 2·sd·√u
    true = np.outer(p, p) + low
    mask = np.triu(np.ones((u, u), dtype=bool), 1)
    noise = np.triu(rng.normal(0, sd, (u, u)), 1)
    q = MeasuredQueries(np.arange(u), np.arange(u), 10_000, p, np.zeros(u), true + noise + noise.T, sd, mask)
    out = spectral_pairs(q)
    err_before = np.sqrt(((q.pairs - true)[mask] ** 2).mean())
    err_after = np.sqrt(((out.pairs - true)[mask] ** 2).mean())
    assert err_after < err_before / 3
    assert np.allclose(out.pairs, out.pairs.T) and np.all(out.pairs[~(mask | mask.T)] == 0)
    # pure noise: nothing above the edge, so the pairs go to independence
    flat = replace(q, pairs=np.outer(p, p) * (mask | mask.T) + noise + noise.T)
    assert np.abs(spectral_pairs(flat).pairs - np.outer(p, p))[mask].max() < sd
    exact = replace(q, pair_sd=0.0)
    assert spectral_pairs(exact) is exact


def test_posterior_pair_variance_is_small_where_shrinkage_is_strong() -> None:
    rng = np.random.default_rng(2)
    u, sd = 80, 0.01
    p = rng.uniform(0.01, 0.3, u)
    mask = np.triu(np.ones((u, u), dtype=bool), 1)
    noise = np.triu(rng.normal(0, sd, (u, u)), 1)
    q = MeasuredQueries(
        np.arange(u), np.arange(u), 10_000, p, np.zeros(u), np.outer(p, p) + noise + noise.T, sd, mask
    )
    var = posterior_pair_variance(q, floor=0.1)
    # pure noise: every bin's signal variance is ~0, so each pair sits at the floor, far below sd²
    assert np.all(var[mask] <= sd**2) and np.median(var[mask]) == pytest.approx(0.1 * sd**2)
    assert np.allclose(posterior_pair_variance(replace(q, pair_sd=0.0)), 0.0)


@pytest.mark.parametrize("pair_weight", ["noise", "posterior"])
def test_query_loss_value_and_gradient_match_autograd_through_the_pairs(pair_weight: str) -> None:
    q = _queries(_data(500, 3), sd=0.02, seed=3)
    t = QueryTargets(q, torch.device("cpu"), QueryFitConfig(pair_weight=pair_weight))
    P = torch.rand(64, IND.size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    P32 = P.float().requires_grad_(True)
    loss, _ = t.losses(P32)
    loss.backward()
    ref_P = P.clone().requires_grad_(True)
    pairs = torch.triu(ref_P.T @ ref_P, diagonal=1) / len(ref_P)
    ref = (t.w_one.double() * (ref_P.mean(0) - t.one.double()) ** 2).sum()
    ref = ref + (t.w_pairs.double() * (pairs - t.pairs.double()) ** 2).sum()
    ref.backward()
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-4)
    assert P32.grad is not None and ref_P.grad is not None
    assert torch.allclose(P32.grad.double(), ref_P.grad, rtol=1e-3, atol=1e-3 * float(ref_P.grad.abs().max()))


def test_exact_one_ways_never_outweigh_noisy_pairs_by_more_than_the_floor() -> None:
    """Public (exact) 1-ways beside noisy pairs: their weight is capped at 1/floor² times a pair's, so the fit
    still follows the pairs; 1-ways noisier than the floor keep their inverse-variance weight."""
    from ehrsynth.training.query_fit import ONE_WAY_SD_FLOOR

    q = _queries(_data(2000, 5), sd=0.01, seed=5)
    exact_one = replace(q, one_way_sd=np.zeros(IND.size))
    t = QueryTargets(exact_one, torch.device("cpu"), QueryFitConfig())
    floor_var = (ONE_WAY_SD_FLOOR * 0.01) ** 2 + 1 / 2000**2  # one count² is added to every variance
    assert float(t.w_one.max()) == pytest.approx(1 / floor_var, rel=1e-3)
    assert float(t.w_one.max()) <= float(t.w_pairs[t.pair_mask].max()) / ONE_WAY_SD_FLOOR**2
    noisy_one = replace(q, one_way_sd=np.full(IND.size, 0.02))
    t2 = QueryTargets(noisy_one, torch.device("cpu"), QueryFitConfig())
    assert float(t2.w_one.max()) == pytest.approx(1 / (0.02**2 + 1 / 2000**2), rel=1e-3)
    exact = replace(q, one_way_sd=np.zeros(IND.size), pair_sd=0.0)  # no DP: uniform weights as before
    assert float(QueryTargets(exact, torch.device("cpu"), QueryFitConfig()).w_one.max()) == pytest.approx(
        2000.0**2
    )
