"""ehrsynth.privacy.distances and encoding: blocked nearest neighbours equal brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.privacy.distances import (
    EncodedMatrix,
    knn_votes,
    nearest_distance,
    resolve_device,
    sparse_row_keys,
)
from ehrsynth.privacy.encoding import TableEncoder


def _binary_frame(rng: np.random.Generator, n: int, d: int, p: float = 0.2) -> pd.DataFrame:
    return pd.DataFrame((rng.random((n, d)) < p).astype(np.uint8), columns=[f"c{j}" for j in range(d)])


def _split(x: np.ndarray, n_dense: int) -> EncodedMatrix:
    full = sp.csr_matrix(x.astype(np.float32))
    return EncodedMatrix.from_sparse(full, np.arange(n_dense), np.arange(n_dense, x.shape[1]))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_q=st.integers(1, 30),
    n_r=st.integers(1, 30),
    d=st.integers(1, 12),
    n_dense=st.integers(0, 12),
    block=st.sampled_from([4, 64, 10_000]),
)
def test_hamming_matches_brute_force(seed: int, n_q: int, n_r: int, d: int, n_dense: int, block: int) -> None:
    rng = np.random.default_rng(seed)
    q = (rng.random((n_q, d)) < 0.3).astype(np.float32)
    r = (rng.random((n_r, d)) < 0.3).astype(np.float32)
    n_dense = min(n_dense, d)
    got = nearest_distance(_split(q, n_dense), _split(r, n_dense), block_bytes=block)
    brute = np.abs(q[:, None, :] - r[None, :, :]).sum(axis=2).min(axis=1)
    np.testing.assert_array_equal(got, brute)


def test_mixed_gower_matches_definition() -> None:
    rng = np.random.default_rng(1)
    n = 60
    df = pd.DataFrame(
        {
            "age": rng.integers(20, 90, n).astype(float),
            "sex": rng.choice(["F", "M"], n),
            "race": rng.choice(np.array(["a", "b", "c", None], dtype=object), n),
            "dx": rng.integers(0, 2, n),
        }
    )
    df.loc[3, "age"] = np.nan
    kinds = {"age": "numeric", "sex": "categorical", "race": "categorical", "dx": "binary"}
    enc = TableEncoder(kinds).fit([df])
    q, r = df.iloc[:20].reset_index(drop=True), df.iloc[20:].reset_index(drop=True)
    got = nearest_distance(enc.gower(q), enc.gower(r))
    lo, hi = df["age"].min(), df["age"].max()

    def dist(a: pd.Series, b: pd.Series) -> float:
        total = float(a["dx"] != b["dx"]) + float(a["sex"] != b["sex"])
        total += float(not (a["race"] == b["race"] or (pd.isna(a["race"]) and pd.isna(b["race"]))))
        if pd.isna(a["age"]) != pd.isna(b["age"]):
            present = b["age"] if pd.isna(a["age"]) else a["age"]
            total += 1.0 + ((present - lo) / (hi - lo)) ** 2
        elif not pd.isna(a["age"]):
            total += ((a["age"] - b["age"]) / (hi - lo)) ** 2
        return total

    brute = np.array([min(dist(q.iloc[i], r.iloc[j]) for j in range(len(r))) for i in range(len(q))])
    np.testing.assert_allclose(got, brute, atol=1e-5)


def test_unseen_synthetic_category_counts_as_mismatch() -> None:
    real = pd.DataFrame({"c": ["a", "b"] * 30})
    enc = TableEncoder({"c": "categorical"}).fit([real])
    syn = pd.DataFrame({"c": ["zzz"]})
    assert nearest_distance(enc.gower(syn), enc.gower(real))[0] == pytest.approx(1.0)


def test_dense_sparse_split_and_threads_do_not_change_results() -> None:
    rng = np.random.default_rng(2)
    real = _binary_frame(rng, 400, 300, p=0.02)
    real.iloc[:, :5] = (rng.random((400, 5)) < 0.5).astype(np.uint8)
    kinds = {c: "binary" for c in real.columns}
    q = _binary_frame(rng, 150, 300, p=0.02)
    results = []
    for thr, max_dense in ((0.05, 10), (0.0, 10_000), (1.1, 0)):
        enc = TableEncoder(kinds, dense_min_density=thr, dense_max_features=max_dense).fit([real])
        results.append(nearest_distance(enc.gower(q), enc.gower(real), block_bytes=50_000))
    assert len(TableEncoder(kinds).fit([real]).sparse_features_) > 0  # the default really mixes both parts
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_torch_cpu_path_matches_numpy() -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    q = _split((rng.random((40, 20)) < 0.3).astype(np.float32), 8)
    r = _split((rng.random((70, 20)) < 0.3).astype(np.float32), 8)
    np.testing.assert_allclose(
        nearest_distance(q, r, device="torch-cpu", block_bytes=1000), nearest_distance(q, r), atol=1e-5
    )


def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_knn_votes_match_brute_force_with_ties(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    q = (rng.random((12, 6)) < 0.4).astype(np.float32)
    r = (rng.random((25, 6)) < 0.4).astype(np.float32)
    weights = rng.integers(1, 3, len(r))
    votes = rng.integers(0, 3, (len(r), 2)).astype(np.float32)
    got = knn_votes(_split(q, 3), _split(r, 3), weights, votes, k=k, block_bytes=256)
    d = np.abs(q[:, None, :] - r[None, :, :]).sum(axis=2)
    for i in range(len(q)):
        order = np.argsort(d[i], kind="stable")
        cum = np.cumsum(weights[order])
        cut = d[i][order][min(int(np.searchsorted(cum, k)), len(order) - 1)]
        np.testing.assert_allclose(got[i], votes[d[i] <= cut].sum(axis=0))


def test_row_keys_identify_equal_rows() -> None:
    m = sp.csr_matrix(np.array([[1, 0, 2], [1, 0, 2], [0, 1, 2], [0, 0, 0], [0, 0, 0]], dtype=np.float32))
    keys = sparse_row_keys(m)
    assert keys[0] == keys[1] and keys[3] == keys[4]
    assert len({keys[0], keys[2], keys[3]}) == 3


def test_encoder_layout_and_codes() -> None:
    df = pd.DataFrame({"x": [0.0, 5.0, 10.0, np.nan] * 15, "c": ["a", "b", "a", None] * 15, "b": [0, 1] * 30})
    enc = TableEncoder({"x": "numeric", "c": "categorical", "b": "binary"}, n_bins=4).fit([df])
    codes = enc.discrete(df.head(4), ["x", "c", "b"])
    assert codes[3, 0] == enc.encodings(["x"])[0].n_codes - 1  # missing numeric -> last code
    assert codes[3, 1] == enc.encodings(["c"])[0].n_codes - 1  # missing category -> last code
    assert list(codes[:, 2]) == [0, 1, 0, 1]
    encoded, one_hot = enc.transform(df)
    assert one_hot is not None and one_hot.shape[0] == len(df)
    bernoulli, block = enc.one_hot_layout()
    assert one_hot.shape[1] == len(bernoulli) == len(block)
    np.testing.assert_allclose(one_hot[:, ~bernoulli].sum(axis=1), 2.0)  # one code per non-binary column
    assert encoded.n_features == len(enc.feature_column_)


def test_sparse_scatter_fallback_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    import ehrsynth.privacy.distances as distances

    rng = np.random.default_rng(4)
    q = _split((rng.random((30, 40)) < 0.1).astype(np.float32), 5)
    r = _split((rng.random((50, 40)) < 0.1).astype(np.float32), 5)
    fast = nearest_distance(q, r)
    monkeypatch.setattr(distances, "_csr_todense", None)
    np.testing.assert_array_equal(nearest_distance(q, r), fast)
