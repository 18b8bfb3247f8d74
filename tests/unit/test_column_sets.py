"""One wording for "these column sets differ"."""

from __future__ import annotations

from ehrsynth.column_sets import column_difference, describe_difference, preview


def test_difference_keeps_each_side_in_order() -> None:
    assert column_difference(["a", "b", "c"], ["c", "x", "a", "y"]) == (["b"], ["x", "y"])
    assert column_difference(["a"], ["a"]) == ([], [])


def test_description_counts_and_truncates() -> None:
    names = [f"c{i}" for i in range(12)]
    text = describe_difference(names, ["z"], missing_label="lacks {n} column(s)", extra_label="only here")
    assert text == f"lacks 12 column(s): {preview(names)}; only here: 'z'"
    assert preview(names).endswith("'c9' and 2 more")
    assert describe_difference([], ["z"], missing_label="m", extra_label="e") == "e: 'z'"
