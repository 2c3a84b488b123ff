"""Properties of the numeric core that must hold for any finite input (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from trainer.distances import (
    DISTANCES,
    SCALERS,
    default_variances,
    paired_distances,
    pairwise_distances,
    scale,
)
from trainer.evaluate import triplet_correct, triplet_scores

SETTINGS = settings(max_examples=50, deadline=None)
BOUNDED = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
UPPER = {"hamming": 1.0, "kulsinski": 1.0, "cosine": 2.0, "correlation": 2.0}


def matrices(
    min_rows: int = 2, max_rows: int = 6, elements: st.SearchStrategy = BOUNDED
) -> st.SearchStrategy:
    shape = st.tuples(st.integers(min_rows, max_rows), st.integers(1, 4))
    return hnp.arrays(np.float64, shape, elements=elements)


@SETTINGS
@given(X=matrices(), metric=st.sampled_from(DISTANCES))
def test_distances_symmetric_bounded_and_consistent(X: np.ndarray, metric: str) -> None:
    V = default_variances(X)
    D = pairwise_distances(X, X, metric, variances=V)
    assert not np.isnan(D).any()
    assert (D >= 0).all() and (D <= UPPER.get(metric, np.inf)).all()
    np.testing.assert_allclose(D, D.T, rtol=1e-9, atol=1e-12)
    A, B = X, X[::-1]
    ab = paired_distances(A, B, metric, variances=V)
    np.testing.assert_array_equal(ab, paired_distances(B, A, metric, variances=V))
    np.testing.assert_allclose(ab, D[np.arange(len(X)), np.arange(len(X))[::-1]], rtol=1e-9, atol=1e-12)


@SETTINGS
@given(X=matrices(min_rows=3, elements=st.floats(-1e3, 1e3)), scaler=st.sampled_from(SCALERS))
def test_scalers_are_idempotent_on_non_degenerate_data(X: np.ndarray, scaler: str) -> None:
    if scaler == "Normalizer":
        assume(np.linalg.norm(X, axis=1).min() > 1e-3)
    else:
        assume(np.ptp(X, axis=0).min() > 1e-3 * (1.0 + np.abs(X).max()))
    once = scale(X, scaler)
    np.testing.assert_allclose(scale(once, scaler), once, rtol=1e-7, atol=1e-9)


@st.composite
def triplet_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]:
    X = draw(matrices(min_rows=3, max_rows=7))
    n_triplets = draw(st.integers(1, 6))
    rows = [draw(st.permutations(range(len(X))))[:3] for _ in range(n_triplets)]
    odd = draw(hnp.arrays(np.int64, n_triplets, elements=st.integers(0, 2)))
    perm = tuple(draw(st.permutations([0, 1, 2])))
    return X, np.array(rows, dtype=np.int64), odd, perm


@SETTINGS
@given(data=triplet_sets(), metric=st.sampled_from(DISTANCES), scaler=st.sampled_from(SCALERS))
def test_triplet_correctness_ignores_song_order(data: tuple, metric: str, scaler: str) -> None:
    X, idx, odd, perm = data
    # New position j holds old position perm[j], so the odd song moves to where perm points at it.
    new_odd = np.argsort(perm)[odd]
    before = triplet_correct(X, idx, odd, metric, scaler)
    after = triplet_correct(X, idx[:, list(perm)], new_odd, metric, scaler)
    np.testing.assert_array_equal(before, after)


@SETTINGS
@given(data=triplet_sets())
def test_no_nan_anywhere(data: tuple) -> None:
    X, idx, odd, _ = data
    for scaler in SCALERS:
        Xs = scale(X, scaler)
        assert np.isfinite(Xs).all()
        V = default_variances(Xs)
        for metric in DISTANCES:
            assert not np.isnan(paired_distances(Xs[idx[:, 0]], Xs[idx[:, 1]], metric, variances=V)).any()
            assert not np.isnan(pairwise_distances(Xs, Xs, metric, variances=V)).any()
    rows = triplet_scores(X, idx, odd)
    assert len(rows) == 27 and all(0.0 <= r.score_percent <= 100.0 for r in rows)
