"""The one DP release of every 1-way marginal (issue 11): domains, quantile encoding, missingness, 'other'."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehrsynth.dp.discovery import discover_schema
from ehrsynth.errors import DataFidelityWarning, InvalidDataError
from ehrsynth.schema import Kind, Schema
from ehrsynth.transforms import TableTransformer
from ehrsynth.transforms.layout import SpanKind


def mixed_table(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lab = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(1.0, 1.0, n)).round(2)
    df = pd.DataFrame(
        {
            "year": rng.integers(1995, 2004, n),
            "lab": lab,
            "thal": rng.choice([3, 6, 7], n),
            "sex": rng.choice(["F", "M"], n),
            "dx": rng.integers(0, 2, n),
            "age": rng.integers(20, 90, n),
        }
    )
    df.loc[rng.random(n) < 0.2, "lab"] = np.nan
    return df


@pytest.fixture(scope="module")
def released() -> tuple[pd.DataFrame, Schema]:
    df = mixed_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataFidelityWarning)
        schema, mechanisms = discover_schema(df, noise_multiplier=4.0, rng=np.random.default_rng(1))
    names = [m.name for m in mechanisms]
    assert names[:2] == ["marginals:row-bound", "marginals:1-way"] and len(names) <= 5
    return df, schema


def test_numbers_keep_their_range_and_never_get_the_unit_interval(
    released: tuple[pd.DataFrame, Schema],
) -> None:
    _df, schema = released
    year = schema["year"]
    assert year.kind is Kind.COUNT and 1990 <= year.lower <= 1995 and 2003 <= year.upper <= 2010
    out = TableTransformer(schema).decode(_random_matrix(schema, 4000), random_state=np.random.default_rng(2))
    assert out["year"].between(1990, 2010).all()  # far from [0, 1]: never squeezed into it
    assert out["age"].min() >= 15 and out["age"].max() <= 100
    assert out["year"].dtype == np.int64 and out["age"].dtype == np.int64


def test_integer_codes_are_categories_of_exactly_the_released_values(
    released: tuple[pd.DataFrame, Schema],
) -> None:
    _df, schema = released
    assert schema["thal"].kind is Kind.CATEGORICAL and schema["thal"].categories == [3, 6, 7]
    assert schema["dx"].kind is Kind.BINARY
    out = TableTransformer(schema).decode(_random_matrix(schema, 3000), random_state=np.random.default_rng(0))
    assert set(out["thal"].unique()) <= {3, 6, 7}


def test_missing_values_only_where_the_data_has_them(released: tuple[pd.DataFrame, Schema]) -> None:
    _df, schema = released
    assert schema["lab"].nullable and abs(float(schema["lab"].missing_rate or 0) - 0.2) < 0.03
    for name in ("year", "age", "thal", "sex", "dx"):
        assert not schema[name].nullable, name
    out = TableTransformer(schema).decode(_random_matrix(schema, 3000), random_state=np.random.default_rng(0))
    assert out[["year", "age", "thal", "sex", "dx"]].notna().all().all()


def test_exact_zeros_of_a_lab_value_survive(released: tuple[pd.DataFrame, Schema]) -> None:
    df, schema = released
    t = TableTransformer(schema)
    X = t.encode(df)
    for span in t.layout:  # decode through the released CDF with uniform positions in the bins
        if span.kind is SpanKind.SCALED:
            X[:, span.start] = np.random.default_rng(3).random(len(df))
    out = t.decode(X, random_state=np.random.default_rng(4))
    real_zero = (df["lab"].dropna() == 0).mean()
    assert abs((out["lab"].dropna() == 0).mean() - real_zero) < 0.05
    from scipy.stats import ks_2samp

    assert ks_2samp(df["lab"].dropna(), out["lab"].dropna()).statistic < 0.08


def test_rare_categories_are_merged_into_other_with_one_warning() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    common = rng.choice(["a", "b"], n)
    rare = np.array([f"r{i}" for i in range(n)])  # 3,000 values held by one row each
    df = pd.DataFrame({"code": np.where(rng.random(n) < 0.3, rare, common)})
    with pytest.warns(DataFidelityWarning, match="'other'") as record:
        schema, _ = discover_schema(df, noise_multiplier=2.0, rng=np.random.default_rng(1))
    assert len([w for w in record if issubclass(w.category, DataFidelityWarning)]) == 1
    col = schema["code"]
    assert col.categories == ["a", "b", "other"] and col.other == "other"
    assert abs(col.frequencies[-1] - 0.3) < 0.03  # type: ignore[index]
    encoded = TableTransformer(schema).encode(df)  # rare values are encoded as 'other', not refused
    assert encoded.shape == (n, 3)


def test_a_code_held_by_one_row_is_never_released() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"dx_common": rng.integers(0, 2, 2000), "dx_rare": 0})
    df.loc[7, "dx_rare"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataFidelityWarning)
        schema, _ = discover_schema(
            df, noise_multiplier=1.0, rng=np.random.default_rng(1), code_columns=["dx_common", "dx_rare"]
        )
    assert schema.names == ["dx_common"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16))
def test_decoded_values_stay_inside_the_released_domain(
    released: tuple[pd.DataFrame, Schema], seed: int
) -> None:
    _, schema = released
    out = TableTransformer(schema).decode(
        _random_matrix(schema, 200, seed), random_state=np.random.default_rng(seed)
    )
    for col in schema.modelled:
        values = out[col.name].dropna()
        if col.kind is Kind.CATEGORICAL:
            assert set(values.unique()) <= set(col.categories or [])
        elif col.kind in (Kind.COUNT, Kind.CONTINUOUS):
            knots = np.asarray(col.knots)
            assert values.min() >= knots[0] and values.max() <= knots[-1]
            assert values.min() >= col.lower and values.max() <= col.upper  # type: ignore[operator]


def _random_matrix(schema: Schema, n: int, seed: int = 0) -> np.ndarray:
    """Arbitrary decoder output: every unit uniform in (0, 1) (softmax blocks are normalised when drawn)."""
    width = TableTransformer(schema).width
    return np.random.default_rng(seed).random((n, width))


def test_position_maps_spread_values_inside_each_bin_as_released() -> None:
    from scipy.stats import ks_2samp

    from ehrsynth.transforms.marginals import exact_marginals

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"lab": rng.lognormal(1.0, 1.0, 4000).round(3)})
    schema = exact_marginals(Schema.infer(df), df)
    t = TableTransformer(schema)
    X = t.encode(df)
    X[:, t.width - 1] = rng.uniform(
        0.85, 0.95, len(df)
    )  # a generator that always puts values near a bin's top
    naive = t.decode(X, random_state=np.random.default_rng(1))
    maps = t.position_quantiles(X, np.random.default_rng(2))
    fixed = t.decode(X, random_state=np.random.default_rng(1), position_maps=maps)
    ks_naive = ks_2samp(df["lab"], naive["lab"]).statistic
    ks_fixed = ks_2samp(df["lab"], fixed["lab"]).statistic
    assert ks_fixed < 0.02 < ks_naive


def test_a_column_too_spread_to_release_is_refused_naming_it_but_rare_codes_are_not() -> None:
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame(
        {
            "spread": 10.0 ** rng.uniform(-3, 9, n),  # every value nonzero, log-uniform over twelve decades
            "rare_dx": (rng.random(n) < 0.02).astype("int64"),  # a 0/1 diagnosis too rare to pass a cell
        }
    )
    from ehrsynth.errors import InvalidDataError

    with pytest.raises(InvalidDataError, match=r"'spread'.*declare their ranges") as info:
        discover_schema(df, noise_multiplier=8.0, rng=np.random.default_rng(1))
    assert "rare_dx" not in str(info.value)
    schema, _ = discover_schema(df[["rare_dx"]], noise_multiplier=8.0, rng=np.random.default_rng(1))
    assert schema["rare_dx"].kind is Kind.BINARY


def test_a_text_column_whose_values_are_all_rare_becomes_other_and_missing_not_a_refusal() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    weight = np.where(
        rng.random(n) < 0.97, None, rng.choice([f"[{i}-{i + 25})" for i in range(0, 250, 25)], n)
    )
    df = pd.DataFrame({"weight": weight, "sex": rng.choice(["F", "M"], n)})
    with pytest.warns(DataFidelityWarning, match="'weight'"):
        schema, _ = discover_schema(df, noise_multiplier=3.0, rng=np.random.default_rng(1))
    col = schema["weight"]
    assert col.kind is Kind.CATEGORICAL and col.categories == ["other"] and col.nullable
    assert abs(float(col.missing_rate or 0) - 0.97) < 0.02


def test_a_dense_column_of_which_no_cell_passes_is_refused_naming_it_not_an_index_error() -> None:
    """A lab value (no zero cell) on a small table: no grid cell clears the threshold at this noise."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"lab": rng.normal(5.0, 1.0, 300).round(2), "sex": rng.choice(["F", "M"], 300)})
    from ehrsynth.errors import InvalidDataError

    with pytest.raises(InvalidDataError, match=r"'lab'.*too spread out"):
        discover_schema(df, noise_multiplier=40.0, rng=np.random.default_rng(1))


def test_a_declared_range_that_no_cell_localises_falls_back_to_its_flat_cdf_not_a_refusal() -> None:
    """The same lab value with its range declared (public): released as the flat CDF over that range (no group
    of 16 level-0 cells clears 1 sd of its noise either, so the coarse fallback has nothing to keep)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"lab": rng.normal(5.0, 1.0, 300).round(2), "sex": rng.choice(["F", "M"], 300)})
    declared = Schema.from_dict(
        {
            "columns": [
                {"name": "lab", "kind": "continuous", "lower": 0.0, "upper": 10.0},
                {"name": "sex", "kind": "categorical"},
            ]
        }
    )
    schema, _ = discover_schema(df, noise_multiplier=40.0, rng=np.random.default_rng(1), declared=declared)
    col = schema["lab"]
    assert col.kind is Kind.CONTINUOUS and (col.lower, col.upper) == (0.0, 10.0)
    assert col.cdf is not None


def test_a_column_level0_cannot_localise_is_refused_unless_its_range_is_declared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the level-0 cells hold significant mass that nothing localises (a noise draw on a small table), an
    undeclared column is refused and a declared range falls back to its flat CDF (this once raised instead)."""
    import ehrsynth.dp.one_way as one_way
    from ehrsynth.errors import InvalidDataError

    def unlocalisable(spec: object, *args: object) -> None:
        raise InvalidDataError("column 'lab': its values are too spread out", column="lab")

    monkeypatch.setattr(one_way, "numeric_cells", unlocalisable)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"lab": rng.normal(5.0, 1.0, 300).round(2), "sex": rng.choice(["F", "M"], 300)})
    with pytest.raises(InvalidDataError, match="'lab'"):
        discover_schema(df, noise_multiplier=2.0, rng=np.random.default_rng(1))
    declared = Schema.from_dict(
        {
            "columns": [
                {"name": "lab", "kind": "continuous", "lower": 0.0, "upper": 10.0},
                {"name": "sex", "kind": "categorical"},
            ]
        }
    )
    schema, _ = discover_schema(df, noise_multiplier=2.0, rng=np.random.default_rng(1), declared=declared)
    assert schema["lab"].kind is Kind.CONTINUOUS and (schema["lab"].lower, schema["lab"].upper) == (0.0, 10.0)


def test_a_declared_count_is_never_released_as_a_0_1_code_at_high_noise() -> None:
    """Visits 1-6, no zeros, 300 rows, very noisy 1-way release: the 0/1-code test cannot reject it, but the
    declared kind does (it came back BINARY). With a declared range: its flat CDF; without: refused."""
    from ehrsynth.errors import InvalidDataError

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"visits": rng.integers(1, 7, 300), "sex": rng.choice(["F", "M"], 300)})

    def declared(**visits: object) -> Schema:
        cols = [{"name": "visits", "kind": "count", **visits}, {"name": "sex", "kind": "categorical"}]
        return Schema.from_dict({"columns": cols})

    ranged = declared(lower=0, upper=6)
    schema, _ = discover_schema(df, noise_multiplier=40.0, rng=np.random.default_rng(1), declared=ranged)
    col = schema["visits"]
    assert col.kind is not Kind.BINARY and (col.lower, col.upper) == (0.0, 6.0)
    with pytest.raises(InvalidDataError, match="'visits'"):
        discover_schema(df, noise_multiplier=40.0, rng=np.random.default_rng(1), declared=declared())


def test_the_0_1_code_test_is_corrected_for_the_number_of_numeric_columns() -> None:
    """The cells of diabetes' ``dx_079`` (16 ones in 8,000 rows, 208 columns at ε = 1): the zeros, the
    remainder after ~28 noisy cells, came out 3.3 sd low, and the single-column test refused the whole fit."""
    from ehrsynth.dp.one_way_numeric import SIGNIFICANT_Z, Cells, Spec, _zeros_and_ones, family_z

    empty = np.zeros(0)
    cells = Cells(empty, empty, empty, zero=7109.8, zero_sd=263.8, one=49.1, one_sd=49.6)
    spec = Spec("dx_079", "numeric", integer=True, dtype="uint8")
    assert not _zeros_and_ones(cells, 8000.0, spec, SIGNIFICANT_Z)
    assert _zeros_and_ones(cells, 8000.0, spec, family_z(200))
    assert family_z(1) == pytest.approx(SIGNIFICANT_Z)
    assert SIGNIFICANT_Z < family_z(10) < family_z(200) < family_z(1000) < 5.0
    # a spread-out count (thousands of nonzero rows) is still no 0/1 code at the corrected z
    spread = Cells(empty, empty, empty, zero=3000.0, zero_sd=263.8, one=400.0, one_sd=49.6)
    assert not _zeros_and_ones(spread, 8000.0, spec, family_z(200))


class _NoNoise:
    def normal(self, loc: float, scale: float, size: int) -> np.ndarray:
        return np.zeros(size)


@pytest.mark.parametrize(
    ("rare", "spread", "merged"), [(0, False, False), (320, True, False), (1000, False, True)]
)
def test_rare_values_too_few_for_other_are_named_as_spread(rare: int, spread: bool, merged: bool) -> None:
    """metformin at ε = 1 lost 'Up'/'Down' (1.6 % of rows) without a warning: their mass was below the
    'other' test. Mass between SPREAD_Z and SIGNIFICANT_Z sd is now recorded for a warning."""
    from ehrsynth.dp.one_way import Release, _categorical
    from ehrsynth.dp.one_way_numeric import Spec

    n = 20_000
    values = (
        ["No"] * (16_000 - rare) + ["Steady"] * 4_000 + ["Up"] * (rare // 2) + ["Down"] * (rare - rare // 2)
    )
    out = Release(columns={}, mechanisms=[])
    col = _categorical(Spec("drug", "categorical"), pd.Series(values), n, 0.0, 70.0, 1_200.0, out, _NoNoise())  # type: ignore[arg-type]
    assert ("drug" in out.spread) == spread and ("drug" in out.merged) == merged
    assert col.categories == (["No", "Steady", "other"] if merged else ["No", "Steady"])
    if spread:
        assert out.spread["drug"] == pytest.approx(rare)


def test_a_spread_out_number_named_like_a_key_becomes_an_identifier_not_a_refusal() -> None:
    """MIMIC-III demo ADMISSIONS (129 rows, ε = 3) was refused for its 'row_id'; a key needs no distribution."""
    rng = np.random.default_rng(0)
    n = 150
    df = pd.DataFrame({"row_id": rng.choice(10**7, n, replace=False) + 10**6, "flag": rng.integers(0, 2, n)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataFidelityWarning)
        schema, _ = discover_schema(df, noise_multiplier=8.0, rng=np.random.default_rng(1))
    assert schema["row_id"].kind is Kind.IDENTIFIER
    undeclared_name = df.rename(columns={"row_id": "reading"})
    with pytest.raises(InvalidDataError, match="'reading'"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DataFidelityWarning)
        discover_schema(undeclared_name, noise_multiplier=8.0, rng=np.random.default_rng(1))


@pytest.mark.parametrize(
    ("values", "decimals"),
    [
        ([6.5, 7.1, 5.0, 8.25], 2),
        ([6.5, 7.1, 5.0, 9.9], 1),
        ([1 / 3, 2 / 7, 0.5], 6),
        ([1.05, 2.5, 3.75], 2),
        ([1e9 + 0.25, -12345.67, 2e6 + 0.5], 2),
    ],
)
def test_the_decimals_a_column_is_written_with_are_released(values: list[float], decimals: int) -> None:
    from ehrsynth.dp.precision import release_decimals as _precision

    v = np.tile(np.asarray(values), 500)  # every level present holds >= 500 values; noise sd 5
    fractional, released = _precision(v, 5.0, False, np.random.default_rng(0), 3.0)
    assert fractional and released == decimals
    assert _precision(v, 5.0, True, np.random.default_rng(0), 3.0) == (
        True,
        None,
    )  # dates: fractions of a day
    assert _precision(np.arange(100.0), 5.0, False, np.random.default_rng(0), 3.0)[0] is False


def test_a_one_decimal_lab_comes_back_with_one_decimal() -> None:
    """A lab written as 6.5 came back as 5.799 (the release's cell resolution) and bounds like 4.5126."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"hba1c": np.round(rng.normal(6.5, 1.2, 3000), 1)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataFidelityWarning)
        schema, _ = discover_schema(df, noise_multiplier=2.0, rng=np.random.default_rng(1))
    assert schema["hba1c"].decimals == 1
    tr = TableTransformer(schema)
    out = tr.decode(tr.encode(df), random_state=np.random.default_rng(0))["hba1c"]
    assert np.allclose(out, np.round(out, 1))
    assert out.min() >= np.floor(schema["hba1c"].lower * 10) / 10 - 1e-9  # type: ignore[operator]


def test_noise_alone_over_many_cells_does_not_refuse_a_column_of_a_wide_table() -> None:
    """User path, diabetes 8,000 × 204, ε = 1, seed 2: the 0/1 code 'dx_530' was refused because the noisy
    total of its ~40 level-0 cells passed a single-column 3 sd test although no cell or group did."""
    from ehrsynth.dp.cell_threshold import SIGNIFICANT_Z, threshold_groups
    from ehrsynth.dp.one_way_numeric import family_z

    noisy = np.full(
        40, 3.5 / np.sqrt(40)
    )  # total 3.5 sd of the summed noise; no cell or aligned group passes
    assert threshold_groups(noisy, 1.0, 4.0, z_total=SIGNIFICANT_Z) is None
    kept = threshold_groups(noisy, 1.0, 4.0, z_total=family_z(200))
    assert kept is not None and not kept.any()  # all mass is the remainder: the 0/1 test decides next
    assert (
        threshold_groups(np.full(40, 2.0), 1.0, 4.0, z_total=family_z(200)) is not None
    )  # real mass localises


def test_no_value_is_invented_next_to_the_one_of_a_0_1_code() -> None:
    """A table of twelve 0/1 codes at ε = 3 got a code column with values 2, 3, … in about one fit in seven:
    the cells next to the cell of 1 grew in at the low neighbour bar (3 sd)."""
    from ehrsynth.dp.cell_threshold import threshold_groups

    noisy = np.zeros(20)
    noisy[10] = 20.0  # the cell of 1: a point mass far above the noise (σ = 1, Bonferroni z = 4)
    noisy[11:13] = 2.4  # its neighbours: 4.8 > 3·√2 (the neighbour bar) but < 4·√2
    narrow = np.ones(20, dtype=bool)  # unit-width integer cells
    point = threshold_groups(noisy, 1.0, 4.0, narrow=narrow)
    assert point is not None and np.flatnonzero(point).tolist() == [10]
    wide = threshold_groups(noisy, 1.0, 4.0, narrow=np.zeros(20, dtype=bool))  # a tail of a spread number
    assert wide is not None and np.flatnonzero(wide).tolist() == [10, 11, 12]
    noisy[11] = 6.0  # a real neighbour clears the Bonferroni bar and is kept
    point = threshold_groups(noisy, 1.0, 4.0, narrow=narrow)
    assert point is not None and 11 in np.flatnonzero(point)


def test_0_1_code_columns_come_back_binary_in_almost_every_release() -> None:
    """Twelve int 0/1 codes (no schema): before the neighbour fix and with the aligned groups left out of the
    Bonferroni family, 18 of 200 releases at this noise turned some code into a count or categorical column
    with invented values (2, 3, … or millions); now about 1 in 200 (the 1 % design rate, FALSE_CELL_RATE)."""

    rng = np.random.default_rng(0)
    codes = np.zeros((800, 12), dtype="int64")
    for row in codes:
        row[rng.choice(12, 2, replace=False)] = 1
    df = pd.DataFrame(codes, columns=[f"dx_{j}" for j in range(12)])
    bad = 0
    for seed in range(100):
        schema, _ = discover_schema(df, noise_multiplier=2.0, rng=np.random.default_rng(seed))
        bad += any(c.kind is not Kind.BINARY for c in schema.columns)
    assert bad <= 2


def test_a_key_named_code_with_many_repeated_values_is_kept_but_a_real_key_gets_surrogates() -> None:
    """discharge_disposition_id (26 values, each held by many rows) was released as an identifier and came
    back as surrogate keys; only nearly unique numbers under a key name are keys, and integer codes under
    a key name are categories up to 64 values."""
    rng = np.random.default_rng(0)
    n = 6000
    df = pd.DataFrame(
        {
            "discharge_disposition_id": rng.choice(np.r_[1:20, 22:29], n),
            "encounter_id": rng.choice(np.arange(10_000, 90_000_000), n, replace=False),
        }
    )
    schema, _ = discover_schema(df, noise_multiplier=4.0, rng=np.random.default_rng(1))
    col = schema["discharge_disposition_id"]  # 26 > 16 values, but a code by its name: categories
    assert col.kind is Kind.CATEGORICAL and col.categories == [*range(1, 20), *range(22, 29)]
    assert schema["encounter_id"].kind is Kind.IDENTIFIER
    many = pd.DataFrame({"provider_id": rng.integers(1, 121, 12_000), "patient_id": np.arange(12_000) + 1000})
    schema, _ = discover_schema(many, noise_multiplier=4.0, rng=np.random.default_rng(2))
    assert schema["provider_id"].kind is Kind.COUNT  # 120 shared values: a number, not surrogates
    assert schema["patient_id"].kind is Kind.IDENTIFIER  # sequential unique keys zoom to one-wide cells too


def test_numbers_beyond_a_billion_are_released_not_squeezed_under_it() -> None:
    """MIMIC-III PRESCRIPTIONS' ``ndc`` (11-digit drug codes, 22 % of rows 1e10-1e11) came back squeezed
    into 7.9e8-9.1e8 when the grid stopped at 1e9: values beyond it went to its last cell. (``ndc`` is now
    read as codes, :func:`ehrsynth.naming.is_code_name`; the same values under a quantity's name.)"""
    rng = np.random.default_rng(0)
    n = 4000
    big = rng.choice([3.38e8, 5.17e8, 6.3e10, 8.3e10], size=n, p=[0.4, 0.3, 0.2, 0.1]).round()
    df = pd.DataFrame({"charges": big.astype(np.int64)})
    schema, _ = discover_schema(df, noise_multiplier=5.0, rng=np.random.default_rng(1))
    col = schema["charges"]
    assert col.upper is not None and col.upper >= 6.3e10
    knots, cdf = np.asarray(col.knots), np.asarray(col.cdf)
    above = 1.0 - np.interp(1e10, knots, cdf)
    assert 0.25 < above < 0.35  # real share above 1e10: 0.3


def test_a_rare_0_1_code_is_not_refused_when_the_summed_cell_noise_is_high() -> None:
    """The harness refused the 0/1 code dx_157 (18 ones in 8,000 rows, ε = 1) once: the noise of its ~190 empty
    integer cells, summed, passed the 'significant mass' bar. A column whose zeros are measured apart is now
    judged by the 0/1 test on those zeros alone; a date (dense: no zeros apart) is still refused."""
    from ehrsynth.dp.one_way_numeric import Spec, numeric_cells

    x = np.zeros(8000)
    x[:18] = 1.0
    rows = np.ones(len(x), dtype=bool)
    refused = 0
    for seed in range(20):  # z_total = 0.5: the summed-noise test fires in about a third of the draws
        try:
            numeric_cells(
                Spec("dx_157", "numeric", integer=True), x, rows, 49.6, 5.0, np.random.default_rng(seed), 0.5
            )
        except InvalidDataError:
            refused += 1
    assert refused == 0
    days = np.full(8000, 12_000.0) + np.arange(8000) % 3
    with pytest.raises(InvalidDataError, match="'visit_date'"):
        for seed in range(20):
            numeric_cells(
                Spec("visit_date", "numeric", integer=True, datetime=True),
                days,
                rows,
                4000.0,
                5.0,
                np.random.default_rng(seed),
                0.5,
            )


def test_a_spread_out_sparse_number_is_still_refused() -> None:
    """What the summed-noise test was for: a number whose nonzero values (10 % of rows) are spread thinly over
    1-1e9, so no cell or group of cells passes. The 0/1 test on its measured zeros refuses it."""
    rng = np.random.default_rng(0)
    n = 3000
    spread = np.exp(rng.uniform(0, np.log(1e9), n)).round().astype(np.int64)
    df = pd.DataFrame({"amount": np.where(rng.random(n) < 0.9, 0, spread), "sex": rng.choice(["F", "M"], n)})
    for seed in range(3):
        with pytest.raises(InvalidDataError, match=r"'amount'.*too spread out"):
            discover_schema(df, noise_multiplier=6.0, rng=np.random.default_rng(seed))


def test_dates_that_no_cell_localises_are_refused_not_sent_to_1970() -> None:
    """Birth dates over three centuries on a tiny table at high noise: the summed cell noise hides their mass,
    which for a number means "all zeros"; a date has no zeros, so it is refused (it came back 1970-01-02)."""
    rng = np.random.default_rng(0)
    days = rng.integers(-45_000, 77_000, 100)
    dob = pd.Timestamp("1970-01-01") + pd.to_timedelta(days, unit="D")
    df = pd.DataFrame({"dob": dob.strftime("%Y-%m-%d"), "sex": rng.choice(["F", "M"], 100)})
    for seed in range(5):
        try:
            schema, _ = discover_schema(df, noise_multiplier=12.0, rng=np.random.default_rng(seed))
        except InvalidDataError as err:
            assert "'dob'" in str(err)
            continue
        col = schema["dob"]
        assert col.kind is Kind.DATETIME and col.upper is not None and col.upper > 1.0, (seed, col)
