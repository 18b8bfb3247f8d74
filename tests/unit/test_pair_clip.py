"""Per-row clipping of the pair counts (dp/pair_clip.py): its L2 bounds hold for any row, the bounds chosen
from the histogram, the release's noise scale, and the fit's weighted pair loss (value and gradient)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.pair_clip import PairClip, choose_clip, clipped_pair_counts
from ehrsynth.dp.sparse_marginals import (
    IndicatorLayout,
    indicator_matrix,
    pair_group_masks,
    pair_group_multipliers,
    release_pairs,
)
from ehrsynth.errors import InvalidParameterError
from ehrsynth.training.clip_fit import clip_weights, clipped_pair_loss, ones_distribution
from ehrsynth.training.query_fit import MeasuredQueries, QueryFitConfig, QueryTargets
from ehrsynth.transforms.layout import Span, SpanKind

# blocks race (0-2) and sex (3-4) | six codes dx_0..dx_5 (5-10) | a lab (11, scaled) and its missing flag (12)
LAYOUT = [
    *[Span(n, SpanKind.SOFTMAX, start, w) for n, start, w in (("race", 0, 3), ("sex", 3, 2))],
    *[Span(f"dx_{i}", SpanKind.BINARY, 5 + i, 1) for i in range(6)],
    *[Span("lab", kind, 11 + i, 1) for i, kind in enumerate((SpanKind.SCALED, SpanKind.MISSING))],
]
IND = IndicatorLayout.from_layout(LAYOUT)
WIDTH = 13

rows = st.lists(st.lists(st.booleans(), min_size=WIDTH, max_size=WIDTH), min_size=1, max_size=10)
bounds = st.tuples(st.integers(2, 7), st.integers(1, 7))


@settings(max_examples=80, deadline=None)
@given(data=rows, extra=st.lists(st.booleans(), min_size=WIDTH, max_size=WIDTH), ones=bounds)
def test_one_row_changes_each_clipped_group_by_at_most_its_bound(data, extra, ones) -> None:
    """Add/remove one row (any number of codes, broken one-hot blocks included): each pair group's counts
    move by at most the clip's sensitivity in L2."""
    clip = PairClip(math.sqrt(ones[0] * (ones[0] - 1) / 2), math.sqrt(IND.n_fixed * ones[1]), IND.n_fixed)
    X = np.asarray(data, dtype=np.float32)
    X2 = np.vstack([X, np.asarray(extra, dtype=np.float32)])
    a = clipped_pair_counts(indicator_matrix(X, IND), IND.free, clip)
    b = clipped_pair_counts(indicator_matrix(X2, IND), IND.free, clip)
    sens = clip.sensitivities()
    for group, m in pair_group_masks(IND).items():
        assert np.linalg.norm(b[m] - a[m]) <= sens[group] + 1e-9


def test_rows_within_the_bound_count_fully_and_heavier_rows_are_scaled() -> None:
    clip = PairClip(1.0, math.sqrt(2 * 1), 2)
    X = np.zeros((2, WIDTH), dtype=np.float32)
    X[:, [0, 3]] = 1.0  # race 0, sex 0
    X[0, [5, 6]] = 1.0  # two codes: one pair, within the bound
    X[1, [5, 6, 7, 8]] = 1.0  # four codes: six pairs, weight 1/√6
    counts = clipped_pair_counts(indicator_matrix(X, IND), IND.free, clip)
    pos = {int(u): i for i, u in enumerate(IND.units)}
    assert counts[pos[5], pos[6]] == pytest.approx(1.0 + 1.0 / math.sqrt(6))
    assert counts[pos[7], pos[8]] == pytest.approx(1.0 / math.sqrt(6))
    # block × code: a row with k codes has 2k such pairs, bounded by √(2·1): weight 1/√k
    assert counts[pos[0], pos[5]] == pytest.approx(1.0 / math.sqrt(2) + 1.0 / math.sqrt(4))
    assert counts[pos[0], pos[3]] == pytest.approx(2.0)  # block × block: not clipped


def test_choose_clip_maximises_signal_per_noise() -> None:
    # diabetes-like: most rows hold 3 codes, a tail holds many
    hist = np.zeros(65)
    hist[[1, 2, 3, 4, 5, 6, 10]] = [200, 1200, 4700, 350, 550, 380, 500]
    clip = choose_clip(hist, 8)
    assert clip.free == pytest.approx(1.0) and clip.mixed == pytest.approx(math.sqrt(8))
    # every row holds 6 codes: clipping below them only loses signal, so no row is clipped
    flat = np.zeros(65)
    flat[6] = 1000.0
    clip = choose_clip(flat, 3)
    assert clip.free == pytest.approx(math.sqrt(15)) and clip.mixed == pytest.approx(math.sqrt(18))
    assert np.allclose(clip.weights(np.array([6])), 1.0)


def test_pair_clip_rejects_bounds_that_are_not_positive() -> None:
    with pytest.raises(InvalidParameterError, match="bounds > 0"):
        PairClip(0.0, 1.0, 2)


def test_clipped_release_noise_scale_and_mechanisms() -> None:
    rng = np.random.default_rng(0)
    X = np.zeros((400, WIDTH), dtype=np.float32)
    X[np.arange(400), rng.integers(0, 3, 400)] = 1.0
    X[np.arange(400), 3 + rng.integers(0, 2, 400)] = 1.0
    X[:, [5, 6, 7, 8, 9, 10, 12]] = rng.random((400, 7)) < 0.4
    M = indicator_matrix(X, IND)
    clip = PairClip(1.0, math.sqrt(IND.n_fixed), IND.n_fixed)
    exact = clipped_pair_counts(M, IND.free, clip)
    noisy = [
        release_pairs(M, IND, ones=4, noise_multiplier=0.5, rng=np.random.default_rng(s), clip=clip)
        for s in range(50)
    ]
    mult = pair_group_multipliers(IND, 2, 0.5, sens=clip.sensitivities())
    assert [m.name for m in noisy[0].mechanisms] == [f"measure:pairs:{g}" for g in ("free", "mixed", "fixed")]
    for group, m in pair_group_masks(IND).items():
        err = np.stack([r.freq[m] * 400 - exact[m] for r in noisy])
        expected = mult[group] * clip.sensitivities()[group]
        assert err.std() == pytest.approx(expected, rel=0.15)
        assert np.allclose(noisy[0].sd[m], expected / 400)


def test_model_weights_match_the_release_weights_on_sharp_rows() -> None:
    clip = PairClip(math.sqrt(3), math.sqrt(8 * 2), 8)
    ones = np.arange(0, 20)
    w_free, w_mixed = clip.weights(ones)
    t_free, t_mixed = clip_weights(clip, torch.as_tensor(ones, dtype=torch.float64))
    assert np.allclose(t_free.numpy(), w_free) and np.allclose(t_mixed.numpy(), w_mixed)
    assert w_free[3] == 1.0 and w_free[4] == pytest.approx(math.sqrt(3 / 6))


def test_clipped_pair_loss_value_and_gradient_match_autograd() -> None:
    """The fit's one-pass surrogate equals autograd through the weighted Gram it stands for: each model row's
    pair (a, b) weighted at w(2 + Σx − x_a − x_b) for a sampled row x (held fixed)."""
    rng = np.random.default_rng(0)
    u, m = 12, 16
    free = np.array([False] * 4 + [True] * 8)
    blocks = np.array([0, 0, 1, 1, *range(2, 10)])
    mask = np.triu(blocks[:, None] != blocks[None, :], 1)
    pairs = rng.random((u, u)) * 0.1
    sd = rng.random((u, u)) * 0.01 + 0.005
    clip = PairClip(1.0, math.sqrt(2), 2)
    q = MeasuredQueries(np.arange(u), blocks, 100, rng.random(u) * 0.3, np.full(u, 0.01), (pairs + pairs.T) / 2,
                        (sd + sd.T) / 2, mask, clip=clip, free=free, clip_pairs=(pairs + pairs.T) / 2,
                        clip_pair_sd=(sd + sd.T) / 2)  # fmt: skip
    t = QueryTargets(q, torch.device("cpu"), QueryFitConfig(project_pairs=False))
    P = torch.tensor(rng.random((m, u)), dtype=torch.float32, requires_grad=True)
    x = torch.as_tensor(rng.random((m, 8)) < 0.5, dtype=torch.float32)
    value, sq = clipped_pair_loss(t, P, x)
    value.backward()
    ref_p = P.detach().clone().requires_grad_(True)
    f = torch.as_tensor(free)
    xs = torch.zeros(m, u)
    xs[:, f] = x
    k = x.sum(1)
    gram = torch.zeros(u, u)
    for z in range(m):  # each pair's weight from the ones of row z outside the pair
        for i in range(u):
            for j in range(u):
                if free[i] and free[j]:
                    w = clip_weights(clip, (k[z] - xs[z, i] - xs[z, j] + 2).reshape(1))[0][0]
                elif free[i] or free[j]:
                    w = clip_weights(clip, (k[z] - xs[z, i] - xs[z, j] + 1).reshape(1))[1][0]
                else:
                    w = torch.tensor(1.0)
                gram[i, j] = gram[i, j] + w * ref_p[z, i] * ref_p[z, j]
    err = gram / m - torch.as_tensor((q.pairs * (mask | mask.T)), dtype=torch.float32)
    ref = (t._w_clip * err * err).sum()
    ref.backward()
    assert float(value.detach()) == pytest.approx(float(ref.detach()), rel=1e-4)
    assert P.grad is not None and ref_p.grad is not None
    assert torch.allclose(P.grad, ref_p.grad, rtol=1e-3, atol=1e-3 * float(ref_p.grad.abs().max()))
    assert sq == pytest.approx(float((err.detach() ** 2 * torch.as_tensor(mask)).sum()), rel=1e-4)


def test_row_size_distribution_of_sharp_and_soft_rows() -> None:
    sharp = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0]])
    dist = ones_distribution(sharp, 10)
    assert dist.shape == (1, 10) and float(dist.sum()) == pytest.approx(1.0)
    assert float(dist[0, 3]) > 0.98
    soft = torch.full((1, 40), 0.1)  # 4 expected ones, variance 3.6
    dist = ones_distribution(soft, 10)[0].numpy()
    assert (dist * np.arange(10)).sum() == pytest.approx(4.0, abs=0.1) and dist.argmax() == 4


def test_the_fit_matches_the_released_row_sizes() -> None:
    """With clipped pairs, the released histogram of ones per row is a target: rows weigh by their size, so a
    model with other row sizes could match the weighted pairs with other dependence."""
    u = 6
    free = np.ones(u, dtype=bool)
    hist = np.array([0.0, 6, 39, 19]) / 64
    q = MeasuredQueries(np.arange(u), np.arange(u), 1000, np.full(u, 0.35), np.full(u, 0.01),
                        np.zeros((u, u)), np.full((u, u), 0.01), np.triu(np.ones((u, u), dtype=bool), 1),
                        clip=PairClip(1.0, 1.0, 0), free=free, ones_hist=hist, ones_hist_sd=0.001,
                        clip_pairs=np.zeros((u, u)), clip_pair_sd=0.01)  # fmt: skip
    t = QueryTargets(q, torch.device("cpu"), QueryFitConfig())
    right = torch.zeros(64, u)
    right[:6, 0] = 1
    right[6:45, :2] = 1
    right[45:, :3] = 1  # 6, 39 and 19 of 64 rows: one, two and three codes
    wrong = torch.zeros(64, u)
    wrong[:, 0] = 1
    wrong[::2, 1:4] = 1  # half one code, half four
    _, good = t.losses(right)
    _, bad = t.losses(wrong)
    assert good["rmse_ones_hist"] < 0.01 < bad["rmse_ones_hist"]


def test_clipped_queries_without_the_free_units_are_refused() -> None:
    u = 4
    q = MeasuredQueries(np.arange(u), np.arange(u), 100, np.full(u, 0.2), np.full(u, 0.01), np.zeros((u, u)),
                        0.01, np.triu(np.ones((u, u), dtype=bool), 1), clip=PairClip(1.0, 1.0, 0))  # fmt: skip
    with pytest.raises(InvalidParameterError, match="clipped pairs need `free`"):
        QueryTargets(q, torch.device("cpu"), QueryFitConfig())
    # the clipped release is measured beside the truncated pairs: without its answers there is nothing to fit
    q = replace(q, free=np.ones(u, dtype=bool))
    with pytest.raises(InvalidParameterError, match="clipped pairs need `clip_pairs`"):
        QueryTargets(q, torch.device("cpu"), QueryFitConfig())


def test_the_loss_adds_the_clipped_pairs_to_the_truncated_ones() -> None:
    """Both pair releases are targets: the loss with clipped pairs is the plain loss plus the clipped one."""
    rng = np.random.default_rng(1)
    u = 5
    mask = np.triu(np.ones((u, u), dtype=bool), 1)
    pairs = rng.random((u, u)) * 0.05
    plain = MeasuredQueries(np.arange(u), np.arange(u), 500, np.full(u, 0.3), np.full(u, 0.01),
                            (pairs + pairs.T) / 2, 0.01, mask)  # fmt: skip
    both = replace(plain, clip=PairClip(1.0, 1.0, 0), free=np.ones(u, dtype=bool), clip_pairs=plain.pairs / 2,
                   clip_pair_sd=0.005)  # fmt: skip
    P = torch.as_tensor(rng.random((32, u)), dtype=torch.float32)
    t_plain = QueryTargets(plain, torch.device("cpu"), QueryFitConfig(project_pairs=False))
    t_both = QueryTargets(both, torch.device("cpu"), QueryFitConfig(project_pairs=False))
    x = torch.bernoulli(P, generator=torch.Generator().manual_seed(0))
    loss_plain, _ = t_plain.losses(P)
    loss_both, stats = t_both.losses(P)
    clipped, _ = clipped_pair_loss(t_both, P, x)
    assert "rmse_clip_pairs" in stats and float(clipped) > 0
    # the clipped term samples its rows from the targets' seeded generator (seed 0): x is that same draw
    assert float(loss_both) == pytest.approx(float(loss_plain) + float(clipped), rel=1e-5)


def test_clipped_and_truncated_pair_releases_share_one_budget() -> None:
    """The DP path's two pair releases: code × code and block × code pairs in both (half of each group's μ²
    on the clipped rows), block × block pairs (no row-size dependence) only truncated; together they spend
    what one release at the plan's multiplier would."""
    from ehrsynth.dp.sparse_marginals import pair_group_multipliers, truncate_rows
    from ehrsynth.training.measure_engine import CLIP_SHARE, _release_pairs

    rng = np.random.default_rng(0)
    X = np.zeros((300, WIDTH), dtype=np.float32)
    X[np.arange(300), rng.integers(0, 3, 300)] = 1.0
    X[np.arange(300), 3 + rng.integers(0, 2, 300)] = 1.0
    X[:, 5:11] = rng.random((300, 6)) < 0.4
    full = indicator_matrix(X, IND)
    cap = 3
    M = truncate_rows(full, IND, cap, np.arange(IND.size))
    clip = PairClip(1.0, math.sqrt(IND.n_fixed), IND.n_fixed)
    sigma = 2.0
    trunc, clipped = _release_pairs(M, full, IND, IND.n_fixed + cap, sigma, rng, clip, CLIP_SHARE)
    assert clipped is not None
    mu = {m.name: m.noise_multiplier**-2 for m in (*trunc.mechanisms, *clipped.mechanisms)}
    assert set(mu) == {f"measure:pairs:{g}" for g in ("free", "mixed", "fixed")} | {
        "measure:pairs_clip:free",
        "measure:pairs_clip:mixed",
    }
    assert sum(mu.values()) == pytest.approx(sigma**-2, rel=1e-5)
    single = pair_group_multipliers(IND, cap, sigma)
    for g in ("free", "mixed"):
        both = mu[f"measure:pairs:{g}"] + mu[f"measure:pairs_clip:{g}"]
        assert both == pytest.approx(single[g] ** -2, rel=1e-5)
        assert mu[f"measure:pairs_clip:{g}"] == pytest.approx(CLIP_SHARE * single[g] ** -2, rel=1e-5)
    assert not (clipped.mask & pair_group_masks(IND)["fixed"]).any()
    # the clipped answers are weighted counts of the full rows plus noise of the clipped sensitivities
    assert np.allclose(
        clipped.sd[pair_group_masks(IND)["free"]], mu["measure:pairs_clip:free"] ** -0.5 * 1.0 / 300
    )
