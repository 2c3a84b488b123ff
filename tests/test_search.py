"""Distances against SciPy, the Kulsinski definition, scalers, exact and approximate top-k."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

from trainer import search
from trainer.distances import DISTANCES, SCALERS, kulsinski, paired_distances, pairwise_distances, scale
from trainer.errors import ParameterError
from trainer.search import SearchIndex, top_k

SCIPY_METRICS = [m for m in DISTANCES if m != "kulsinski"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def _scipy(Q: np.ndarray, R: np.ndarray, metric: str, V: np.ndarray) -> np.ndarray:
    if metric == "minkowski":
        return cdist(Q, R, "minkowski", p=2)
    if metric == "seuclidean":
        return cdist(Q, R, "seuclidean", V=V)
    return cdist(Q, R, metric)


def test_names_in_thesis_order() -> None:
    assert DISTANCES[0] == "chebyshev" and DISTANCES[-1] == "kulsinski" and len(DISTANCES) == 9
    assert SCALERS == ("MinMaxScaler", "StandardScaler", "Normalizer")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", SCIPY_METRICS)
def test_pairwise_and_paired_match_scipy(rng: np.random.Generator, metric: str, dtype: type) -> None:
    Q = rng.normal(size=(6, 5)).astype(dtype)
    R = rng.normal(size=(8, 5)).astype(dtype)
    V = np.var(R.astype(np.float64), axis=0, ddof=1)
    expected = _scipy(Q.astype(np.float64), R.astype(np.float64), metric, V)
    got = pairwise_distances(Q, R, metric, variances=V)
    assert got.shape == (6, 8) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    diag = paired_distances(Q, R[:6], metric, variances=V)
    np.testing.assert_allclose(diag, np.diag(expected[:, :6]), rtol=1e-10, atol=1e-12)


def test_seuclidean_defaults_to_reference_variances(rng: np.random.Generator) -> None:
    Q, R = rng.normal(size=(2, 3)), rng.normal(size=(7, 3))
    expected = cdist(Q, R, "seuclidean", V=np.var(R, axis=0, ddof=1))
    np.testing.assert_allclose(pairwise_distances(Q, R, "seuclidean"), expected)
    stacked = np.var(np.vstack([Q, R[:2]]), axis=0, ddof=1)
    np.testing.assert_allclose(
        paired_distances(Q, R[:2], "seuclidean"), np.diag(cdist(Q, R[:2], "seuclidean", V=stacked))
    )


def test_seuclidean_ignores_zero_variance_components() -> None:
    Q = np.array([[0.0, 5.0]])
    R = np.array([[3.0, 1.0], [4.0, 1.0]])  # column 1 is constant
    V = np.array([2.0, 0.0])
    np.testing.assert_allclose(
        pairwise_distances(Q, R, "seuclidean", variances=V), [[3 / 2**0.5, 4 / 2**0.5]]
    )
    np.testing.assert_allclose(paired_distances(Q, R[:1], "seuclidean", variances=V), [3 / 2**0.5])
    assert np.all(pairwise_distances(Q, R, "seuclidean", variances=np.zeros(2)) == 0)


def test_minkowski_is_euclidean(rng: np.random.Generator) -> None:
    Q, R = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    np.testing.assert_array_equal(
        pairwise_distances(Q, R, "minkowski"), pairwise_distances(Q, R, "euclidean")
    )


@pytest.mark.parametrize(
    ("u", "v", "expected"),
    [
        ([1, 0, 0], [0, 1, 0], 1.0),  # SciPy 1.10 docs: (1+1-0+3)/(1+1+3)
        ([1, 0, 0], [1, 1, 0], 0.75),  # SciPy 1.10 docs: (0+1-1+3)/(0+1+3)
        ([1, 0, 0], [2, 1, 0], 0.75),  # boolean: 2 counts as True (the docs' numeric form gave 1/3)
        ([1, 1, 0, 1], [1, 0, 1, 1], 4 / 6),  # ntt=2 ntf=1 nft=1 n=4
        ([0, 0, 0], [0, 0, 0], 1.0),  # nothing true: (0+0-0+3)/3
        ([1, 1], [1, 1], 0.0),  # all true: (0+0-2+2)/2
        ([0.5, -2.0, 0.0], [0.0, 0.0, 0.0], 1.0),  # ntf=2: (2+0-0+3)/(2+0+3)
    ],
)
def test_kulsinski_known_values(u: list, v: list, expected: float) -> None:
    assert kulsinski(np.array(u, float), np.array(v, float)) == pytest.approx(expected)
    assert pairwise_distances(np.array([u], float), np.array([v], float), "kulsinski")[0, 0] == pytest.approx(
        expected
    )
    assert paired_distances(np.array([u], float), np.array([v], float), "kulsinski")[0] == pytest.approx(
        expected
    )


def test_kulsinski_vectorised_matches_scalar(rng: np.random.Generator) -> None:
    Q = rng.integers(-1, 2, size=(4, 6)).astype(float)
    R = rng.integers(-1, 2, size=(5, 6)).astype(float)
    expected = np.array([[kulsinski(q, r) for r in R] for q in Q])
    np.testing.assert_allclose(pairwise_distances(Q, R, "kulsinski"), expected)
    np.testing.assert_allclose(paired_distances(Q, R[:4], "kulsinski"), np.diag(expected))


@pytest.mark.parametrize("metric", ["cosine", "correlation"])
def test_directionless_vectors_have_defined_distances(metric: str) -> None:
    flat = np.array([[0.0, 0.0, 0.0]]) if metric == "cosine" else np.array([[2.0, 2.0, 2.0]])
    other = np.array([[1.0, 2.0, 4.0]])
    assert pairwise_distances(flat, flat, metric)[0, 0] == 0.0
    assert pairwise_distances(flat, other, metric)[0, 0] == 1.0
    assert paired_distances(flat, flat, metric)[0] == 0.0
    assert paired_distances(other, flat, metric)[0] == 1.0


def test_unknown_names_raise() -> None:
    X = np.zeros((2, 2))
    with pytest.raises(ParameterError, match="unknown distance 'manhattan'; choose one of: chebyshev"):
        pairwise_distances(X, X, "manhattan")
    with pytest.raises(ParameterError, match="unknown scaler 'Robust'"):
        scale(X, "Robust")
    with pytest.raises(ParameterError, match="NaN"):
        scale(np.array([[np.nan, 1.0]]), "Normalizer")
    with pytest.raises(ParameterError, match="columns"):
        pairwise_distances(np.zeros((1, 2)), np.zeros((1, 3)), "euclidean")


def test_scalers_behave_like_sklearn(rng: np.random.Generator) -> None:
    X = rng.normal(size=(10, 3)).astype(np.float32)
    for name, cls in zip(SCALERS, (MinMaxScaler, StandardScaler, Normalizer), strict=True):
        out = scale(X, name)
        assert out.dtype == np.float64 and out.shape == X.shape
        np.testing.assert_allclose(out, cls().fit_transform(X.astype(np.float64)), rtol=1e-6)
    mm = scale(X, "MinMaxScaler")
    np.testing.assert_allclose(mm.min(axis=0), 0)
    np.testing.assert_allclose(mm.max(axis=0), 1)
    np.testing.assert_allclose(np.linalg.norm(scale(X, "Normalizer"), axis=1), 1)


def test_scale_fit_on_and_degenerate_input() -> None:
    ref = np.array([[0.0, 1.0], [10.0, 1.0]])
    np.testing.assert_allclose(scale(np.array([[5.0, 1.0]]), "MinMaxScaler", fit_on=ref), [[0.5, 0.0]])
    np.testing.assert_allclose(scale(ref, "StandardScaler")[:, 1], [0.0, 0.0])  # constant column
    np.testing.assert_array_equal(scale(np.zeros((1, 3)), "Normalizer"), np.zeros((1, 3)))


def _brute_force(q: np.ndarray, X: np.ndarray, k: int, metric: str, scaler: str, exclude: list[int]):
    """Reference top-k written from SciPy and the scalar kulsinski, independent of the module."""
    cls = {"MinMaxScaler": MinMaxScaler, "StandardScaler": StandardScaler, "Normalizer": Normalizer}[scaler]
    fitted = cls().fit(X)
    Xs, qs = fitted.transform(X), fitted.transform(q[None])
    if metric == "kulsinski":
        d = np.array([kulsinski(qs[0], x) for x in Xs])
    else:
        d = _scipy(qs, Xs, metric, np.var(Xs, axis=0, ddof=1))[0]
    d[exclude] = np.inf
    order = np.lexsort((np.arange(len(d)), d))[:k]
    return order, d[order]


@pytest.mark.parametrize("scaler", SCALERS)
@pytest.mark.parametrize("metric", DISTANCES)
def test_top_k_and_index_match_brute_force(rng: np.random.Generator, metric: str, scaler: str) -> None:
    X = rng.normal(size=(40, 6))
    X[:5] = np.round(X[:5])  # some exact zeros so hamming/kulsinski are not all ties
    q = X[7] + rng.normal(scale=0.3, size=6)
    exp_idx, exp_dist = _brute_force(q, X, 5, metric, scaler, [7])
    idx, dist = top_k(q, X, 5, metric=metric, scaler=scaler, exclude=[7])
    np.testing.assert_array_equal(idx, exp_idx)
    np.testing.assert_allclose(dist, exp_dist, rtol=1e-9, atol=1e-12)
    index = SearchIndex(X, scaler)
    assert index.backend_for(metric) == "exact"
    idx2, dist2 = index.query(q, 5, metric, exclude_ids=[7])
    np.testing.assert_array_equal(idx2, exp_idx)
    np.testing.assert_allclose(dist2, exp_dist, rtol=1e-5, atol=1e-6)  # the index stores float32


def test_index_batches_and_bounds(rng: np.random.Generator) -> None:
    X = rng.normal(size=(30, 4))
    index = SearchIndex(X, "StandardScaler")
    idx, dist = index.query(X[:3], 4, "euclidean", exclude_ids=[0, 1, 2])
    assert idx.shape == dist.shape == (3, 4)
    assert not np.isin(idx, [0, 1, 2]).any() and np.all(np.diff(dist, axis=1) >= 0)
    for row in range(3):
        np.testing.assert_array_equal(idx[row], index.query(X[row], 4, "euclidean", exclude_ids=[0, 1, 2])[0])
    idx, _ = index.query(X[0], 100, "cosine", exclude_ids=[0])
    assert sorted(idx) == list(range(1, 30))
    with pytest.raises(ParameterError, match="dimensions"):
        index.query(np.zeros(5), 3)
    with pytest.raises(ParameterError, match="k must be"):
        index.query(X[0], 0)


def test_index_reports_exact_below_threshold(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    X = rng.normal(size=(20, 4))
    index = SearchIndex(X)
    assert not index.use_ann and "exact" in index.backend_reason
    monkeypatch.setattr(search, "faiss_available", lambda: False)
    index = SearchIndex(X, ann="always")
    assert not index.use_ann and "faiss" in index.backend_reason


@pytest.fixture
def faiss_one_thread():
    """One OpenMP thread: on a busy CI machine faiss's spinning threads make tiny builds 20x slower."""
    faiss = pytest.importorskip("faiss")
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield faiss
    faiss.omp_set_num_threads(before)


def _clustered(rng: np.random.Generator, n: int, d: int, n_clusters: int) -> np.ndarray:
    centers = rng.normal(size=(n_clusters, d))
    return (centers[rng.integers(0, n_clusters, size=n)] + rng.normal(scale=0.5, size=(n, d))).astype(
        np.float32
    )


@pytest.mark.parametrize("metric", search.ANN_METRICS)
@pytest.mark.usefixtures("faiss_one_thread")
def test_ann_recall_and_round_trip(rng: np.random.Generator, metric: str, tmp_path) -> None:
    X = _clustered(rng, 1200, 24, 30)
    exact = SearchIndex(X, "StandardScaler", ann="never")
    approx = SearchIndex(X, "StandardScaler", ann="always")
    assert approx.backend_for(metric) == "ann" and approx.backend_for("hamming") == "exact"
    queries = X[:50] + rng.normal(scale=0.1, size=(50, 24)).astype(np.float32)
    want, want_d = exact.query(queries, 10, metric)
    got, got_d = approx.query(queries, 10, metric)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(want, got, strict=True)])
    assert recall >= 0.9
    np.testing.assert_allclose(got_d[:, 0], want_d[:, 0], rtol=1e-3, atol=1e-4)
    got_ex, _ = approx.query(queries[:5], 10, metric, exclude_ids=list(want[0, :3]))
    assert not np.isin(got_ex, want[0, :3]).any()

    ann = search.AnnIndex.build(exact.scaled, metric)
    ann.keep(tmp_path / "hnsw-x.npz")
    loaded = search.AnnIndex.load_if_valid(tmp_path / "hnsw-x.npz")
    assert loaded.metric == metric and len(loaded) == 1200
    q = exact.transform(queries[:5])
    np.testing.assert_array_equal(loaded.query(q, 10)[0], ann.query(q, 10)[0])


@pytest.mark.usefixtures("faiss_one_thread")
def test_ann_rejects_other_metrics(rng: np.random.Generator, tmp_path) -> None:
    with pytest.raises(ParameterError, match="approximate search supports"):
        search.AnnIndex.build(rng.normal(size=(10, 3)), "hamming")
    (tmp_path / "bad.npz").write_bytes(b"not an index")
    assert search.AnnIndex.load_if_valid(tmp_path / "bad.npz") is None  # built anew instead


@pytest.mark.usefixtures("faiss_one_thread")
def test_a_kept_graph_is_read_back_only_for_the_rows_it_was_built_from(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    X = rng.normal(size=(300, 8)).astype(np.float32)
    first = SearchIndex(X, ann="always", graph_dir=tmp_path)
    first.prepare("cosine")
    assert len(list(tmp_path.glob("hnsw-*.npz"))) == 1
    want = first.query(X[:3], 5, "cosine")

    real_build = search.AnnIndex.build
    built = []
    monkeypatch.setattr(search.AnnIndex, "build", lambda *a, **kw: built.append(1) or real_build(*a, **kw))
    again = SearchIndex(X, ann="always", graph_dir=tmp_path)  # the next session: same rows
    got = again.query(X[:3], 5, "cosine")
    assert built == [] and all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))

    changed = X.copy()
    changed[0] += 1.0
    SearchIndex(changed, ann="always", graph_dir=tmp_path).prepare("cosine")  # other rows: built anew
    assert built == [1] and len(list(tmp_path.glob("hnsw-*.npz"))) == 2

    for f in tmp_path.glob("hnsw-*.npz"):
        f.write_bytes(b"damaged")
    SearchIndex(X, ann="always", graph_dir=tmp_path).prepare("cosine")  # unreadable: built anew
    assert built == [1, 1]


@pytest.mark.usefixtures("faiss_one_thread")
def test_index_answers_exactly_where_the_graph_comes_up_short(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    X = rng.normal(size=(50, 8))
    approx = SearchIndex(X, ann="always")

    def nothing(self: search.AnnIndex, q: np.ndarray, k: int, **kwargs: object) -> tuple:
        """Stands in for AnnIndex.query: a graph that finds nothing."""
        return np.full((len(q), k), -1), np.full((len(q), k), np.inf)

    monkeypatch.setattr(search.AnnIndex, "query", nothing)
    got = approx.query(X[:2], 5, "cosine", exclude_ids=[0, 1])
    want = SearchIndex(X, ann="never").query(X[:2], 5, "cosine", exclude_ids=[0, 1])
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.usefixtures("faiss_one_thread")
def test_ann_build_reports_progress_and_stops(rng: np.random.Generator) -> None:
    from trainer.errors import Cancelled

    seen: list[tuple[int, int]] = []
    search.AnnIndex.build(
        rng.normal(size=(30, 4)), "euclidean", chunk=10, progress=lambda d, t, m: seen.append((d, t))
    )
    assert seen == [(10, 30), (20, 30), (30, 30)]
    with pytest.raises(Cancelled):
        search.AnnIndex.build(rng.normal(size=(30, 4)), "euclidean", should_stop=lambda: True)
