"""A zoomed cell is split only when its children's noisy counts carry evidence (stop 24)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ehrsynth.dp.numeric_zoom import SPLIT_Z, _merge_children
from ehrsynth.dp.one_way_numeric import Cells

SIGMA = 10.0
THRESHOLD = 4.0 * SIGMA  # the level's Bonferroni bar


def _parent_and_children(child_counts: list[float]) -> tuple[Cells, tuple[np.ndarray, ...]]:
    """One released cell [25, 32) holding 20 rows (mass an aligned group of empty cells passed with), and its
    seven one-wide children with the given noisy counts."""
    cells = Cells(lo=np.array([1.0, 25.0]), hi=np.array([2.0, 32.0]), count=np.array([500.0, 20.0]))
    cells.solo = np.array([True, False])  # [25, 32) did not pass on its own count
    lo = np.arange(25.0, 32.0)
    return cells, (lo, lo + 1.0, np.ones(7, dtype=np.int64), np.asarray(child_counts, dtype=np.float64))


def test_a_cell_whose_children_are_noise_stays_whole_instead_of_inventing_values() -> None:
    """diabetes encounters (synthesize defaults, ε = 3) got admission_source_id values 28-63 from such cells."""
    noise = [9.0, -4.0, 12.0, -15.0, 3.0, 11.0, -2.0]  # what an empty parent's children look like
    assert sum(noise) < SPLIT_Z * SIGMA * math.sqrt(7) and max(noise) < THRESHOLD
    cells, (lo, hi, parent, noisy) = _parent_and_children(noise)
    out = _merge_children(cells, lo, hi, parent, noisy, SIGMA, THRESHOLD)
    assert out.lo.tolist() == [1.0, 25.0] and out.count.tolist() == [500.0, 20.0]  # one cell, not 7 values
    # the outermost cell is cut back to its last child above 1 sd (11 at 30): no spill past the data's edge
    assert out.hi.tolist() == [2.0, 31.0]


def test_only_the_outer_side_of_the_outermost_whole_cell_is_cut_back() -> None:
    cells, (lo, hi, parent, noisy) = _parent_and_children([9.0, -4.0, 12.0, -15.0, 3.0, 11.0, -2.0])
    cells.count[0] = 0.0  # now [25, 32) is the only cell with mass: both of its sides are edges
    out = _merge_children(cells, lo, hi, parent, noisy, SIGMA, THRESHOLD)
    assert out.count.tolist() == [0.0, 20.0] and out.lo[1] == 27.0 and out.hi[1] == 31.0  # 12 at 27, 11 at 30
    one_clear = [2.0, -3.0, 1.0, 5.0, 4.0, -1.0, 15.0]  # only the last child: a cut would leave one value
    cells, (lo, hi, parent, noisy) = _parent_and_children(one_clear)
    cells.count[0] = 0.0
    out = _merge_children(cells, lo, hi, parent, noisy, SIGMA, THRESHOLD)
    assert out.lo[1] == 25.0 and out.hi[1] == 32.0  # kept whole: [31, 32) would be a value made by noise


@pytest.mark.parametrize("dense", [False, True])
def test_a_child_above_the_bar_splits_its_parent(dense: bool) -> None:
    cells, (lo, hi, parent, noisy) = _parent_and_children([2.0, -3.0, 1.0, 80.0, 4.0, -1.0, 0.0])
    out = _merge_children(cells, lo, hi, parent, noisy, SIGMA, THRESHOLD, dense)
    assert len(out.lo) == 1 + 7 and out.count.sum() == pytest.approx(520.0)
    assert out.count[out.lo == 28.0][0] == pytest.approx(20.0)  # the dominant child takes the parent's mass


def test_a_cell_that_passed_on_its_own_count_is_split_as_before() -> None:
    cells, (lo, hi, parent, noisy) = _parent_and_children([9.0, -4.0, 12.0, -15.0, 3.0, 11.0, -2.0])
    cells.solo = np.array([True, True])
    out = _merge_children(cells, lo, hi, parent, noisy, SIGMA, THRESHOLD)
    assert len(out.lo) > 2 and out.count.sum() == pytest.approx(520.0)
    assert out.solo is not None and out.solo.all()


def test_dates_are_split_as_before_so_their_edges_do_not_spill() -> None:
    cells, (lo, hi, parent, noisy) = _parent_and_children([9.0, -4.0, 12.0, -15.0, 3.0, 11.0, -2.0])
    out = _merge_children(cells, lo, hi, parent, noisy, SIGMA, THRESHOLD, dense=True)
    assert len(out.lo) == 1 + 7 and out.count.sum() == pytest.approx(520.0)
