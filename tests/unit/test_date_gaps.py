"""Dates as gaps after an earlier date (transforms/date_gaps.py) and the order release that picks them
(dp/date_order.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.date_order import MAX_DATE_COLUMNS, ORDER_WEIGHT, detect_date_gaps, order_counts
from ehrsynth.errors import SchemaError
from ehrsynth.schema import Column, Kind
from ehrsynth.transforms.date_gaps import DateGap, from_gaps, gap_column, order_gaps, to_gaps

day = st.integers(16_000, 20_000)
gap = st.integers(0, 60)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(day, gap, st.booleans(), st.booleans()), min_size=1, max_size=40),
    st.sampled_from(["datetime64[ns]", "object"]),
)
def test_round_trip_keeps_dates_order_and_missing(
    rows: list[tuple[int, int, bool, bool]], dtype: str
) -> None:
    """to_gaps then from_gaps gives the dates back whenever the later one is not before its anchor."""
    a = pd.to_datetime([r[0] for r in rows], unit="D")
    b = a + pd.to_timedelta([r[1] for r in rows], unit="D")
    df = pd.DataFrame({"a": a, "b": b})
    df.loc[[r[2] for r in rows], "a"] = pd.NaT  # anchor missing: the later date is lost (a counted disorder)
    df.loc[[r[3] for r in rows], "b"] = pd.NaT
    if dtype == "object":
        df = df.apply(lambda s: s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None))
    g = DateGap("b", "a", dtype=dtype)
    modelled = to_gaps(df, [g])
    assert pd.api.types.is_float_dtype(modelled["b"])
    assert (modelled["b"].dropna() >= 0).all()
    back = from_gaps(modelled.copy(), [g])
    kept = df["a"].notna() & df["b"].notna()
    assert back["b"][kept].tolist() == df["b"][kept].tolist()
    assert back["b"][~kept].isna().all()
    assert str(back["b"].dtype) == str(df["b"].dtype)


def test_negative_gaps_are_fitted_as_zero_and_timestamps_keep_seconds() -> None:
    df = pd.DataFrame(
        {
            "start": pd.to_datetime(["2020-01-02 08:00:00", "2020-01-05 00:00:00"]),
            "end": pd.to_datetime(["2020-01-02 09:30:00", "2020-01-04 00:00:00"]),
        }
    )
    g = DateGap("end", "start", time_unit="s")
    modelled = to_gaps(df, [g])
    assert modelled["end"].tolist() == pytest.approx([1.5 / 24, 0.0])
    back = from_gaps(modelled, [g])
    assert back["end"].tolist() == [pd.Timestamp("2020-01-02 09:30:00"), pd.Timestamp("2020-01-05")]


def test_chains_rebuild_anchors_first_and_bad_gaps_are_refused() -> None:
    chain = [DateGap("discharge", "surgery"), DateGap("surgery", "admit")]
    assert [g.column for g in order_gaps(chain)] == ["surgery", "discharge"]
    df = pd.DataFrame({"admit": pd.to_datetime(["2020-01-01"]), "surgery": [2.0], "discharge": [3.0]})
    assert from_gaps(df, chain)["discharge"].iloc[0] == pd.Timestamp("2020-01-06")
    with pytest.raises(SchemaError, match="cycle"):
        order_gaps([DateGap("a", "b"), DateGap("b", "a")])
    with pytest.raises(SchemaError, match="two anchors"):
        order_gaps([DateGap("c", "a"), DateGap("c", "b")])
    with pytest.raises(SchemaError, match="itself"):
        DateGap("a", "a")
    with pytest.raises(SchemaError, match="keys"):
        DateGap.from_dict({"column": "b", "anchor": "a"})
    assert DateGap.from_dict(DateGap("b", "a").to_dict()) == DateGap("b", "a")


def test_a_declared_date_becomes_a_bounded_gap() -> None:
    later = Column("discharge", Kind.DATETIME, lower=18_000.0, upper=18_400.0, time_unit="D")
    anchor = Column("admit", Kind.DATETIME, nullable=True, lower=17_990.0, upper=18_390.0, time_unit="D")
    col = gap_column(later, anchor)
    assert (col.kind, col.lower, col.upper, col.decimals, col.nullable) == (
        Kind.CONTINUOUS,
        0.0,
        410.0,
        0,
        True,
    )
    open_col = gap_column(Column("discharge", Kind.DATETIME), None)
    assert open_col.lower is None and open_col.upper is None


def test_order_counts() -> None:
    a = np.array([1.0, 2.0, 5.0, np.nan, 3.0, np.nan])
    b = np.array([2.0, 2.0, 4.0, 1.0, np.nan, np.nan])
    # rows: b after a, equal, b first, b without a, a without b, neither
    assert order_counts([a, b]).tolist() == [[2.0, 2.0, 3.0, 3.0]]
    assert order_counts([a, b + 400]).tolist() == [[1.0, 4.0, 3.0, 0.0]]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, MAX_DATE_COLUMNS),
    st.lists(
        st.lists(
            st.one_of(st.none(), st.integers(0, 5)), min_size=MAX_DATE_COLUMNS, max_size=MAX_DATE_COLUMNS
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=MAX_DATE_COLUMNS, max_size=MAX_DATE_COLUMNS),
)
def test_one_row_moves_the_counts_by_at_most_the_stated_bound(
    d: int, rows: list[list[int | None]], extra: list[int | None]
) -> None:
    """Adding any row changes the (pairs × 4) count vector by at most √(3·pairs) in L2."""

    def days(table: list[list[int | None]]) -> list[np.ndarray]:
        return [np.array([np.nan if r[j] is None else float(r[j]) for r in table]) for j in range(d)]

    before, after = order_counts(days(rows)), order_counts(days([*rows, extra]))
    pairs = d * (d - 1) // 2
    assert np.linalg.norm(after - before) <= np.sqrt(3 * pairs) + 1e-9
    assert np.abs(after - before).sum(axis=1).max() <= 3  # one of the two disorder counts, both, close


def dates(n: int, disorder: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    admit = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 1800, n), unit="D")
    stay = pd.to_timedelta(rng.integers(0, 15, n), unit="D")
    flip = rng.random(n) < disorder
    surgery = admit + stay / 2
    return pd.DataFrame(
        {
            "discharge": admit + np.where(flip, -1, 1) * stay,
            "admit": admit,
            "birth": pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20_000, n), unit="D"),
            "surgery": surgery.floor("D"),
        }
    )


def test_exact_detection_finds_the_chain_and_skips_unordered_pairs() -> None:
    df = dates(500, 0.0, 0)
    gaps, orders, mechanisms = detect_date_gaps(
        df, list(df.columns), noise_multiplier=None, rng=np.random.default_rng(0)
    )
    assert mechanisms == []
    # birth comes first in every row, decades before: kept as orders, not gaps; discharge after admission is
    # implied by the chain discharge → surgery → admit
    assert {(o.column, o.after) for o in orders} == {
        ("discharge", "birth"),
        ("admit", "birth"),
        ("surgery", "birth"),
    }
    # birth always comes first, but decades before: admission is not modelled as an age
    assert {(g.column, g.anchor) for g in gaps} == {("surgery", "admit"), ("discharge", "surgery")}
    mixed = dates(500, 0.3, 1)
    gaps, orders, _ = detect_date_gaps(
        mixed, list(mixed.columns), noise_multiplier=None, rng=np.random.default_rng(0)
    )
    assert ("discharge", "surgery") not in {(g.column, g.anchor) for g in gaps}
    assert not {("discharge", "surgery"), ("discharge", "admit")} & {(o.column, o.after) for o in orders}


def test_dp_detection_is_charged_and_never_orders_a_shuffled_pair() -> None:
    df = dates(4000, 0.0, 2)
    gaps, orders, mechanisms = detect_date_gaps(
        df, ["admit", "discharge"], noise_multiplier=2.0, rng=np.random.default_rng(0)
    )
    assert orders == []  # the one ordered pair is a gap
    assert [(g.column, g.anchor) for g in gaps] == [("discharge", "admit")]
    assert [(m.name, m.noise_multiplier) for m in mechanisms] == [("date-order", 2.0 * ORDER_WEIGHT)]
    wrong = 0
    for seed in range(20):
        half = dates(4000, 0.5, seed)
        rng = np.random.default_rng(seed)
        found = detect_date_gaps(half, ["admit", "discharge"], noise_multiplier=2.0, rng=rng)
        wrong += len(found.gaps) + len(found.orders)
    assert wrong == 0
    small = dates(150, 0.0, 3)  # too few rows for the noise: nothing is ordered
    found = detect_date_gaps(
        small, ["admit", "discharge"], noise_multiplier=2.0, rng=np.random.default_rng(0)
    )
    assert found.gaps == [] and found.orders == []


def test_rows_out_of_order_are_redrawn_and_orders_validate() -> None:
    from ehrsynth.transforms.date_gaps import DateOrder, keep_order, out_of_order

    rng = np.random.default_rng(0)

    def draw(m: int) -> pd.DataFrame:  # half the rows die before they are born
        birth = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20_000, m), unit="D")
        death = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20_000, m), unit="D")
        return pd.DataFrame({"birth": birth, "death": death.where(rng.random(m) < 0.8)})

    order = DateOrder("death", "birth")
    first = draw(1000)
    bad = out_of_order(first, [order])
    assert 0.3 < bad.mean() < 0.5  # a missing death never counts
    out, left = keep_order(first, [order], draw)
    assert left == 0 and len(out) == 1000 and not out_of_order(out, [order]).any()
    assert out.iloc[: (~bad).sum()].equals(first[~bad].reset_index(drop=True))  # kept rows stay, first
    never, left = keep_order(first, [order], lambda m: first.iloc[:0])  # no draw helps: left as drawn
    assert left == int(bad.sum()) and len(never) == 1000
    assert DateOrder.from_dict(order.to_dict()) == order
    with pytest.raises(SchemaError, match="keys"):
        DateOrder.from_dict({"column": "death"})


def test_names_that_say_which_date_ends_the_span_need_less_signal() -> None:
    # 400 rows at this noise: 14 sd of rows with both dates, below MIN_SIGNAL (25) but above NAMED_MIN_SIGNAL
    from ehrsynth.dp.date_order import MIN_SIGNAL, NAMED_MIN_SIGNAL

    nm = 8.0
    sd = nm * ORDER_WEIGHT * np.sqrt(3)
    assert NAMED_MIN_SIGNAL * sd < 400 < MIN_SIGNAL * sd
    df = dates(400, 0.0, 4)
    named = df.rename(columns={"admit": "intime", "discharge": "outtime"})
    for seed in range(5):
        rng = np.random.default_rng(seed)
        assert detect_date_gaps(df, ["admit", "discharge"], noise_multiplier=nm, rng=rng).gaps == []
        found = detect_date_gaps(
            named, ["intime", "outtime"], noise_multiplier=nm, rng=np.random.default_rng(seed)
        )
        assert [(g.column, g.anchor) for g in found.gaps] == [("outtime", "intime")]
    # the names set the direction: a table whose 'outtime' always comes first is not turned round, and a
    # shuffled pair is not ordered
    flipped = named.rename(columns={"intime": "outtime", "outtime": "intime"})
    wrong = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        wrong += len(detect_date_gaps(flipped, ["intime", "outtime"], noise_multiplier=nm, rng=rng).gaps)
        half = dates(400, 0.5, seed).rename(columns={"admit": "intime", "discharge": "outtime"})
        found = detect_date_gaps(
            half, ["intime", "outtime"], noise_multiplier=nm, rng=np.random.default_rng(seed)
        )
        wrong += len(found.gaps) + len(found.orders)
    assert wrong == 0
