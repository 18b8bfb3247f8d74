"""Under DP the time of day of dates is released apart (ehrsynth.dp.time_of_day) and drawn on sampling
(ehrsynth.transforms.times): MIMIC-style timestamps no longer all come back at midnight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.dp.discovery import discover_schema
from ehrsynth.dp.one_way import one_way_noise
from ehrsynth.dp.time_of_day import day_fraction, hour_counts, release_hours
from ehrsynth.errors import SchemaError
from ehrsynth.kinds import TIME_OF_DAY_CELLS, Column, Kind
from ehrsynth.schema import Schema
from ehrsynth.transforms.date_gaps import DateGap, date_days
from ehrsynth.transforms.times import add_times, draw_fractions


def _stamps(n: int, seed: int = 0, midnight: float = 0.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2150-01-01") + pd.to_timedelta(rng.integers(0, 3650, n), unit="D")
    hours = np.clip(rng.normal(15.0, 3.0, n), 0.01, 23.99)
    hours = np.where(rng.random(n) < midnight, 0.0, hours)
    return pd.Series((day + pd.to_timedelta(hours, unit="h")).strftime("%Y-%m-%d %H:%M:%S"))


def test_the_hours_of_timestamps_are_released_and_dates_only_are_not() -> None:
    n = 4000
    s = _stamps(n, midnight=0.25)
    shares = release_hours(
        day_fraction(date_days(s, "s")), np.ones(n, bool), float(n), 10.0, np.random.default_rng(0)
    )
    assert shares is not None and len(shares) == TIME_OF_DAY_CELLS and abs(sum(shares) - 1.0) < 1e-9
    assert abs(shares[0] - 0.25) < 0.03  # exactly midnight: the dates without a time
    hours = np.arange(24) + 0.5
    assert abs(float(np.dot(shares[1:], hours)) / (1 - shares[0]) - 15.0) < 0.5
    dates = pd.Series(pd.to_datetime(s).dt.strftime("%Y-%m-%d"))
    assert (
        release_hours(
            day_fraction(date_days(dates, "s")), np.ones(n, bool), float(n), 10.0, np.random.default_rng(0)
        )
        is None
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 0.9999), st.floats(0.0, 0.9999), st.booleans()), min_size=1, max_size=30
    )
)
def test_one_row_changes_the_hour_release_by_at_most_its_bound(rows: list[tuple[float, float, bool]]) -> None:
    """Removing any one row changes the hour histograms of k date columns by at most √k in L2 (the
    sensitivity the ``marginals:hours`` Gaussian is calibrated for), whatever the times (midnight included)."""
    a = np.asarray([r[0] for r in rows])
    b = np.asarray([r[1] if r[2] else np.nan for r in rows])
    full = np.concatenate([hour_counts(x, np.ones(len(rows), bool)) for x in (a, b)])
    for i in range(len(rows)):
        keep = np.arange(len(rows)) != i
        less = np.concatenate([hour_counts(x, keep) for x in (a, b)])
        assert float(np.linalg.norm(full - less)) <= np.sqrt(2) + 1e-12


def test_tables_with_dates_pay_for_the_hour_release_and_others_do_not() -> None:
    kw = {"epsilon": 1.0, "delta": 1e-6, "share": 0.45, "accountant": "prv"}
    plain, dated = one_way_noise(**kw), one_way_noise(**kw, hours=True)
    assert plain < dated < 1.05 * plain  # weight 3: a few % more noise on the 1-ways, only with dates


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=TIME_OF_DAY_CELLS, max_size=TIME_OF_DAY_CELLS), st.integers(0, 99)
)
def test_drawn_times_fall_in_their_hour_in_whole_seconds(weights: list[float], seed: int) -> None:
    if sum(weights) <= 0:
        weights = [1.0] + [0.0] * (TIME_OF_DAY_CELLS - 1)
    shares = (np.asarray(weights) / sum(weights)).tolist()
    frac = draw_fractions(shares, 500, np.random.default_rng(seed))
    assert ((frac >= 0) & (frac < 1)).all()
    seconds = frac * 86400
    assert np.allclose(seconds, np.round(seconds), atol=1e-6)
    cells = np.where(frac == 0, 0, np.floor(frac * 24) + 1).astype(int)
    assert all(shares[c] > 0 for c in np.unique(cells))


def test_time_of_day_round_trips_and_is_checked() -> None:
    shares = [0.2] + [0.8 / 24] * 24
    col = Column("t", Kind.DATETIME, lower=0.0, upper=10.0, time_unit="D", time_of_day=shares)
    assert Column.from_dict(col.to_dict()).time_of_day == pytest.approx(shares)
    with pytest.raises(SchemaError, match="time_of_day"):
        Column("t", Kind.DATETIME, time_of_day=[1.0])
    with pytest.raises(SchemaError, match="time_of_day"):
        Column("t", Kind.IDENTIFIER, time_of_day=shares)


def test_discovery_gives_timestamps_their_hours_and_sampling_draws_them_in_order() -> None:
    n = 4000
    stamps = _stamps(n)
    df = pd.DataFrame({"intime": stamps, "visit_date": pd.to_datetime(stamps).dt.strftime("%Y-%m-%d")})
    from ehrsynth.dp.discovery import date_times

    schema, _ = discover_schema(df, noise_multiplier=3.0, rng=np.random.default_rng(0), times=date_times(df))
    assert schema["intime"].time_of_day is not None and schema["visit_date"].time_of_day is None
    # sampling: a gap's later stamp on its anchor's day never comes first (times swapped)
    out = pd.DataFrame({"a": ["2150-01-01"] * 300, "b": ["2150-01-01"] * 300})
    both = Schema(
        [
            Column("a", Kind.DATETIME, time_unit="D", dtype="object", time_of_day=[0.0] + [1 / 24] * 24),
            Column("b", Kind.CONTINUOUS, dtype="float64", time_of_day=[0.0] + [1 / 24] * 24),
        ]
    )
    got = add_times(out.copy(), both, [DateGap("b", "a", dtype="object")], np.random.default_rng(1))
    a, b = pd.to_datetime(got["a"]), pd.to_datetime(got["b"])
    assert (b >= a).all() and (a.dt.hour > 0).any() and (a.dt.date == b.dt.date).all()


def test_a_timed_date_on_its_untimed_later_dates_day_drops_to_midnight() -> None:
    # outtime's hours not released (too few rows, or dates only): it stands for its whole day, so intime (and
    # a timed date above it on that day) must not come after it
    out = pd.DataFrame(
        {
            "a": ["2150-01-01", "2150-01-01"] * 100,
            "b": ["2150-01-01"] * 200,
            "c": ["2150-01-01", "2150-01-03"] * 100,
        }
    )
    hours = [0.0] + [1 / 24] * 24
    schema = Schema(
        [
            Column("a", Kind.DATETIME, time_unit="D", dtype="object", time_of_day=hours),
            Column("b", Kind.CONTINUOUS, dtype="float64", time_of_day=hours),
            Column("c", Kind.CONTINUOUS, dtype="float64"),
        ]
    )
    gaps = [DateGap("b", "a", dtype="object"), DateGap("c", "b", dtype="object")]
    got = add_times(out.copy(), schema, gaps, np.random.default_rng(0))
    a, b, c = (pd.to_datetime(got[k]) for k in "abc")
    assert (b >= a).all() and (c >= b).all()
    same = c.dt.date == b.dt.date
    assert same.sum() == 100 and (b[same] == c[same]).all() and (a[same] == c[same]).all()
    assert (b[~same].dt.hour > 0).any()  # a later day: times kept
