"""Sampling at the released number of codes per row (ehrsynth.training.row_sizes)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.errors import InvalidParameterError
from ehrsynth.training.row_sizes import (
    denoise_sizes,
    exact_sizes,
    match_row_sizes,
    size_quotas,
    size_target,
)


def wide_draw(
    rng: np.random.Generator, sizes_p: np.ndarray
) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """Candidate rows (one column: a unique id) with sizes drawn from ``sizes_p``."""
    counter = [0]

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.arange(counter[0], counter[0] + m, dtype=np.float64)[:, None]
        counter[0] += m
        return ids, rng.choice(len(sizes_p), size=m, p=sizes_p)

    return draw


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=12).filter(lambda h: sum(h) > 0),
    st.integers(1, 5000),
)
def test_quotas_sum_to_n_and_round_each_share(hist: list[float], n: int) -> None:
    target = size_target(hist)
    quota = size_quotas(target, n)
    assert quota.sum() == n
    assert np.all(np.abs(quota - n * target) < 1.0)


def test_rows_come_out_with_the_target_sizes_in_random_order() -> None:
    rng = np.random.default_rng(0)
    wide = np.array([0.1, 0.2, 0.2, 0.2, 0.15, 0.1, 0.05])  # what a generator draws
    target = size_target([0.0, 0.05, 0.2, 0.6, 0.1, 0.05])  # what the table holds (last bin: 5 and up)
    sizes_of: dict[float, int] = {}
    base = wide_draw(rng, wide)

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        rows, sizes = base(m)
        sizes_of.update(zip(rows[:, 0].tolist(), sizes.tolist(), strict=True))
        return rows, sizes

    out = match_row_sizes(draw, 2000, target, np.random.default_rng(1))
    got = np.minimum([sizes_of[v] for v in out[:, 0]], 5)
    assert np.array_equal(np.bincount(got, minlength=6), size_quotas(target, 2000))
    assert len(np.unique(out[:, 0])) == 2000  # no candidate twice
    assert not np.all(np.diff(got) >= 0)  # not sorted by size


def test_sizes_the_generator_cannot_make_are_filled_with_other_rows(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    draw = wide_draw(rng, np.array([0.5, 0.5, 0.0]))  # never a row of size 2
    with caplog.at_level(logging.INFO, logger="ehrsynth.training.row_sizes"):
        out = match_row_sizes(draw, 100, size_target([0.4, 0.4, 0.2]), rng, max_rounds=2)
    assert out.shape == (100, 1) and len(np.unique(out[:, 0])) == 100
    assert "20 of 100 rows" in caplog.text and "from 200 candidates" in caplog.text


def test_denoising_zeroes_the_noise_past_the_mode_and_keeps_the_mode() -> None:
    sd = 0.01
    hist = np.array([0.003, 0.05, 0.2, 0.6, 0.1, 0.05, 0.004, 0.03, -0.01, 0.025])
    out = denoise_sizes(hist, sd)
    assert out.tolist() == [0.0, 0.05, 0.2, 0.6, 0.1, 0.05, 0.0, 0.0, 0.0, 0.0]
    assert denoise_sizes(np.array([0.001, 0.0005]), sd).tolist() == [0.001, 0.0]  # the mode stays
    assert np.array_equal(denoise_sizes(hist, 0.0), hist)  # exact statistics are left alone


def test_exact_sizes_end_with_an_empty_bin() -> None:
    assert exact_sizes(np.array([3, 3, 1, 3]), 64) == [0.0, 0.25, 0.0, 0.75, 0.0]
    assert exact_sizes(np.array([70, 1]), 64)[-1] == 0.5  # above the cap: the last bin


@pytest.mark.parametrize("hist", [[1.0], [np.nan, 1.0], [-1.0, 0.0], [[0.5, 0.5]]])
def test_bad_histograms_are_refused(hist: list[float]) -> None:
    with pytest.raises(InvalidParameterError, match="row-size histogram"):
        size_target(hist)
