"""The fit's side of the clipped pair release (:mod:`ehrsynth.dp.pair_clip`): the model's weighted pair answers
and its row-size distribution against the released histogram (both added to the loss of the truncated pairs,
:class:`~ehrsynth.training.query_fit.QueryTargets`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ehrsynth.dp.pair_clip import PairClip

if TYPE_CHECKING:
    from ehrsynth.training.query_fit import QueryTargets

#: the released row-size histogram is a SOFT target: its sd in the loss weights is at least this (frequency
#: scale; the release's own is ~0.002 on 8,000 rows at ε = 1). Clipped pairs weigh rows by their size, so the
#: fit must keep row sizes near the released ones; fitted at the release's precision, the model's soft rows
#: could not take the peaked sizes of real rows (59 % of diabetes patients hold exactly 3 codes) without
#: losing their dependence (diabetes 10k × 200, ε = 1: AUROC 0.611 against 0.649 at this floor;
#: benchmarks/RESULTS.md, measure-tuning, "Fourth pass").
ONES_HIST_SD_FLOOR = 0.05


def ones_distribution(pf: torch.Tensor, bins: int) -> torch.Tensor:
    """(m × ``bins``) the distribution of each model row's number of ones, a sum of independent Bernoulli(p)
    given its latent vector: normal with the same mean and variance (floored at 0.04, so a sharp row puts
    ~99 % on its count) in unit bins around 0, 1, …; the last bin takes the upper tail."""
    edges = torch.arange(bins - 1, dtype=pf.dtype, device=pf.device) + 0.5
    mean = pf.sum(dim=1, keepdim=True)
    sd = (pf * (1 - pf)).sum(dim=1, keepdim=True).clamp(min=0.04).sqrt()
    cdf = torch.special.ndtr((edges[None, :] - mean) / sd)
    return torch.diff(torch.cat([torch.zeros_like(mean), cdf, torch.ones_like(mean)], dim=1), dim=1)


def clip_weights(clip: PairClip | None, ones: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(w_free, w_mixed) of model rows with ``ones`` free ones, as :meth:`PairClip.weights` (in torch)."""
    if clip is None:
        return torch.ones_like(ones), torch.ones_like(ones)
    w_free = (clip.free / (ones * (ones - 1) / 2).clamp(min=1.0).sqrt()).clamp(max=1.0)
    w_mixed = (clip.mixed / (clip.n_fixed * ones).clamp(min=1.0).sqrt()).clamp(max=1.0)
    return w_free, w_mixed


def clipped_pair_loss(
    t: QueryTargets, P: torch.Tensor, x: torch.Tensor | None = None
) -> tuple[torch.Tensor, float]:
    """:meth:`QueryTargets._pair_loss` for pairs measured on clipped rows (:mod:`ehrsynth.dp.pair_clip`). The release
    counts a pair of a row with k ones at weight w(k); for a model row z (independent Bernoulli units given
    z) E[w(K)·x_a·x_b] = P_za·P_zb·E[w(2 + K_−ab)], where K_−ab, the ones outside a and b, depends on the
    pair. One sampled row x ~ Bernoulli(P_z) gives it without bias: K_−ab = Σx − x_a − x_b, so the pair's
    weight is w(Σx), w(Σx + 1) or w(Σx + 2) as x holds both, one or neither of a, b, and the weighted Gram
    splits into products of A = P∘x and B = P∘(1 − x). (Weighting a row at its expected size, w(Σ_a P_za),
    ignored that a pair's own ones raise its row's size; the fit then moved to rows of other sizes and
    exaggerated planted dependence: correlation 0.50 against 0.21 real with exact statistics.) The
    gradient is taken with x held fixed."""
    m, c = P.shape[0], 4.0 / P.shape[0]
    pf, pb = P.index_select(1, t.free_idx), P.index_select(1, t.block_idx)
    with torch.no_grad():
        if x is None:
            x = torch.bernoulli(pf.clamp(0.0, 1.0), generator=t.generator)
        k = x.sum(dim=1)
        (f0, m0), (f1, m1), (f2, _) = (clip_weights(t.clip, k + j) for j in range(3))
        a, b = pf * x, pf * (1 - x)
        q1 = a * f0[:, None] + b * f1[:, None]  # partners of a unit x holds
        q2 = a * f1[:, None] + b * f2[:, None]  # partners of a unit x does not hold
        qm = a * m0[:, None] + b * m1[:, None]  # block × code: weight w_mixed(1 + Σx − x_a)
        e_ff = (a.T @ q1 + b.T @ q2) / m - t.t_ff
        e_bf = pb.T @ qm / m - t.t_bf
        e_bb = pb.T @ pb / m - t.t_bb
        d_ff, d_bf, d_bb = t.w_ff * e_ff, t.w_bf * e_bf, t.w_bb * e_bb
        value = (d_ff * e_ff).sum() + 2 * (d_bf * e_bf).sum() + (d_bb * e_bb).sum()
        mixed = x * m0[:, None] + (1 - x) * m1[:, None]
        dir_f = (x * (q1 @ d_ff) + (1 - x) * (q2 @ d_ff) + mixed * (pb @ d_bf)) * c
        dir_b = (qm @ d_bf.T + pb @ d_bb) * c
        sq = float(
            (e_ff * e_ff * t.m_ff).sum() / 2 + (e_bf * e_bf * t.m_bf).sum() + (e_bb * e_bb * t.m_bb).sum() / 2
        )
    surrogate = (pf * dir_f).sum() + (pb * dir_b).sum()
    return value + surrogate - surrogate.detach(), sq


def ones_hist_loss(pf: torch.Tensor, hist: torch.Tensor, weight: float) -> tuple[torch.Tensor, float]:
    """``weight`` × the squared error of the model's row-size distribution against the released histogram
    ``hist`` (weight: from :data:`ONES_HIST_SD_FLOOR`) and its RMS error."""
    model = ones_distribution(pf, len(hist)).mean(dim=0)
    err = model - hist
    return weight * (err * err).sum(), float(err.detach().pow(2).mean().sqrt())
