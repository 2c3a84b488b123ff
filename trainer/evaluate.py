"""How well embeddings group songs: the thesis's 27-way triplet table, P@1 and MAP@R.

A triplet is three songs of which one is the odd one out (thesis section 3.4.3.2). It is scored
correct when the two similar songs are strictly closer to each other than either is to the odd
one.  Ties get the expected score of breaking them at random: where the similar pair ties with
one other pair for the smallest distance the triplet counts 1/2, where all three pairs tie 1/3.
On real-valued embeddings hamming and kulsinski put every pair at the same distance, so they
score about 33 % -- as in the thesis's Appendix A (35 %), whose scoring picked one of the tied
pairs by position, not 0 % as a strict "closer than" would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .distances import (
    DISTANCES,
    SCALERS,
    check_metric,
    default_variances,
    paired_distances,
    pairwise_distances,
    scale,
    smallest_k,
)
from .errors import ParameterError

# Rows of triplets scored per step, and distance-matrix entries per step for P@1/MAP@R: bounds
# memory to a few tens of MB whatever the data size.
_TRIPLET_CHUNK = 16_384
_MATRIX_BUDGET = 4_000_000
#: Most album triplets a benchmark draws (each costs 24 bytes and a distance per distance x scaler).
MAX_TRIPLETS = 1_000_000


def album_triplets(labels: np.ndarray, n_triplets: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random triplets from labels (e.g. albums): two songs sharing a label and one that does not.

    Every distinct triplet (unordered similar pair, odd song) is equally likely; the odd song's
    position is drawn uniformly so it is not always last. No triplet repeats unless
    ``n_triplets`` exceeds the number of distinct ones, in which case all appear and the rest
    are drawn again.

    Parameters
    ----------
    labels : np.ndarray, shape (n,)
        Integers or strings.
    n_triplets : int
    seed : int
        Same seed, same triplets.

    Returns
    -------
    idx : np.ndarray, shape (t, 3), int64
        Row indices into ``labels``.
    odd : np.ndarray, shape (t,), int64
        Position (0, 1 or 2) of the odd song in each row.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ParameterError(f"labels must be 1-D, got shape {labels.shape}")
    if not 1 <= n_triplets <= MAX_TRIPLETS:
        raise ParameterError(f"n_triplets must be between 1 and {MAX_TRIPLETS:,}, got {n_triplets}")
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(counts) < 2:
        raise ParameterError("album triplets need at least two different labels")
    if counts.max() < 2:
        raise ParameterError("album triplets need a label shared by at least two songs")
    rng = np.random.default_rng(seed)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = len(labels)
    weights = counts * (counts - 1) / 2 * (n - counts)
    total = int(weights.sum())
    if total <= 4 * n_triplets:
        base = _all_triplets(order, starts, counts, n)
        picks = np.concatenate([rng.permutation(total) for _ in range(-(-n_triplets // total))])
        base = base[picks[:n_triplets]]
    else:
        base = _sample_triplets(rng, order, starts, counts, weights / weights.sum(), n, n_triplets)
    swap = rng.random(n_triplets) < 0.5  # the similar pair's order is random too
    base[swap, :2] = base[swap, 1::-1]
    odd = rng.integers(0, 3, size=n_triplets)
    idx = np.empty((n_triplets, 3), dtype=np.int64)
    pair_slots = np.array([[1, 2], [0, 2], [0, 1]])[odd]
    rows = np.arange(n_triplets)
    idx[rows, odd] = base[:, 2]
    idx[rows, pair_slots[:, 0]] = base[:, 0]
    idx[rows, pair_slots[:, 1]] = base[:, 1]
    return idx, odd


def _all_triplets(order: np.ndarray, starts: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """Every (a, b, odd) with ``a < b`` sharing a label and ``odd`` elsewhere -> ``(total, 3)``."""
    out = []
    for start, size in zip(starts, counts, strict=True):
        members = order[start : start + size]
        if size < 2:
            continue
        a, b = np.triu_indices(size, k=1)
        others = np.concatenate([order[:start], order[start + size :]])
        pairs = np.stack([members[a], members[b]], axis=1)
        out.append(np.column_stack([np.repeat(pairs, len(others), axis=0), np.tile(others, len(pairs))]))
    return np.concatenate(out).astype(np.int64)


def _sample_triplets(
    rng: np.random.Generator,
    order: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    p: np.ndarray,
    n: int,
    want: int,
) -> np.ndarray:
    """Distinct uniform random triplets ``(want, 3)`` by sampling and dropping repeats."""
    found = np.empty((0, 3), dtype=np.int64)
    while len(found) < want:
        m = int((want - len(found)) * 1.1) + 16
        g = rng.choice(len(counts), size=m, p=p)
        size, start = counts[g], starts[g]
        i = rng.integers(0, size)
        j = rng.integers(0, size - 1)
        j = j + (j >= i)
        r = rng.integers(0, n - size)
        r = r + (r >= start) * size
        a, b = order[start + i], order[start + j]
        cand = np.column_stack([np.minimum(a, b), np.maximum(a, b), order[r]])
        found = np.concatenate([found, cand])
        _, first = np.unique(found, axis=0, return_index=True)
        found = found[np.sort(first)]
    return found[:want]


def _check_triplets(X: np.ndarray, idx: np.ndarray, odd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.asarray(idx, dtype=np.int64)
    odd = np.asarray(odd, dtype=np.int64)
    if idx.ndim != 2 or idx.shape[1] != 3 or odd.shape != (idx.shape[0],):
        raise ParameterError(f"expected idx (t, 3) and odd (t,), got {idx.shape} and {odd.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= len(X)):
        raise ParameterError(f"triplet indices must lie in 0..{len(X) - 1}")
    if odd.size and (odd.min() < 0 or odd.max() > 2):
        raise ParameterError("odd positions must be 0, 1 or 2")
    return idx, odd


def _correct_scaled(
    Xs: np.ndarray, idx: np.ndarray, odd: np.ndarray, metric: str, V: np.ndarray
) -> np.ndarray:
    """Triplet credit ``(t,)`` (1, 1/2, 1/3 or 0; see the module docstring) on already-scaled rows
    ``Xs (n, d)``, in bounded-memory chunks."""
    out = np.zeros(len(idx), dtype=np.float64)
    rows = np.arange(len(idx))
    sim = np.array([[1, 2], [0, 2], [0, 1]])[odd]
    a, b, o = idx[rows, sim[:, 0]], idx[rows, sim[:, 1]], idx[rows, odd]
    for s in range(0, len(idx), _TRIPLET_CHUNK):
        sl = slice(s, s + _TRIPLET_CHUNK)
        A, B, C = Xs[a[sl]], Xs[b[sl]], Xs[o[sl]]
        d_ab = paired_distances(A, B, metric, variances=V)
        d_ao = paired_distances(A, C, metric, variances=V)
        d_bo = paired_distances(B, C, metric, variances=V)
        out[sl] = tie_credit(d_ab, d_ao, d_bo)
    return out


def tie_credit(d_ab: np.ndarray, d_ao: np.ndarray, d_bo: np.ndarray) -> np.ndarray:
    """Score of each triplet from its three pair distances ``(t,)``: 1 when the similar pair
    ``ab`` is strictly the closest, ``1/m`` when it ties with the others for the smallest distance
    (``m`` = 2 or 3 pairs tied: the expected score of a random pick among them), else 0.  A NaN
    distance (e.g. correlation of a constant row) is never the smallest."""
    d = np.stack([d_ab, d_ao, d_bo]).astype(np.float64)
    d[np.isnan(d)] = np.inf
    low = d.min(axis=0)
    tied = (d == low).sum(axis=0)
    credit = np.zeros(d.shape[1], dtype=np.float64)
    hit = (d[0] == low) & np.isfinite(low)
    credit[hit] = 1.0 / tied[hit]
    return credit


def triplet_correct(
    X: np.ndarray,
    idx: np.ndarray,
    odd: np.ndarray,
    metric: str,
    scaler: str,
    *,
    fit_on: np.ndarray | None = None,
) -> np.ndarray:
    """Which triplets the embeddings get right under one distance and scaler.

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
        Embeddings of the evaluated songs.
    idx : np.ndarray, shape (t, 3), int
        Rows of ``X`` in each triplet.
    odd : np.ndarray, shape (t,), int
        Position (0..2) of the odd song.
    metric, scaler : str
    fit_on : np.ndarray, shape (m, d), optional
        Rows to fit the scaler (and seuclidean's variances) on; ``X`` itself by default, as the
        thesis fitted on its test set.

    Returns
    -------
    np.ndarray, shape (t,), float64
        1.0 for a triplet got right, 0.0 for one got wrong, 1/2 or 1/3 where the similar pair ties
        with one or both other pairs for the smallest distance (:func:`tie_credit`); the mean is
        the share correct.
    """
    check_metric(metric)
    idx, odd = _check_triplets(np.asarray(X), idx, odd)
    Xs = scale(X, scaler, fit_on=fit_on)
    V = default_variances(Xs if fit_on is None else scale(fit_on, scaler, fit_on=fit_on))
    return _correct_scaled(Xs, idx, odd, metric, V)


@dataclass(frozen=True)
class ScoreRow:
    """One cell of the thesis's table: percent of triplets correct for a distance and a scaler."""

    distance: str
    scaler: str
    score_percent: float
    n_triplets: int


def triplet_scores(
    X: np.ndarray, idx: np.ndarray, odd: np.ndarray, *, fit_on: np.ndarray | None = None
) -> list[ScoreRow]:
    """All 27 distance x scaler scores, in Appendix A order (see :func:`triplet_correct`)."""
    idx, odd = _check_triplets(np.asarray(X), idx, odd)
    rows = []
    for scaler in SCALERS:
        Xs = scale(X, scaler, fit_on=fit_on)
        V = default_variances(Xs if fit_on is None else scale(fit_on, scaler, fit_on=fit_on))
        for metric in DISTANCES:
            correct = _correct_scaled(Xs, idx, odd, metric, V)
            percent = 100.0 * float(correct.mean()) if len(correct) else 0.0
            rows.append(ScoreRow(metric, scaler, percent, len(correct)))
    return sort_rows(rows)


def sort_rows(rows: Iterable[ScoreRow]) -> list[ScoreRow]:
    """Rows in thesis Appendix A order: by distance in DISTANCES order, then scaler in SCALERS order."""
    return sorted(rows, key=lambda r: (DISTANCES.index(r.distance), SCALERS.index(r.scaler)))


def best_row(rows: Iterable[ScoreRow]) -> ScoreRow | None:
    """The best cell of a table: the highest score, the first in Appendix A order among equals
    (the command line's summary, the Benchmarks page and its heatmaps all mark this one)."""
    ordered = sort_rows(rows)
    return max(ordered, key=lambda r: r.score_percent) if ordered else None


@dataclass(frozen=True)
class RetrievalReport:
    """Leave-one-out retrieval with labels: P@1, MAP@R, and per label ``(hits, queries)`` at 1."""

    p_at_1: float
    map_at_r: float
    by_label: dict[str, tuple[int, int]]
    #: the songs that were queries, and whether each one's nearest other song shares its label
    queries: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hits: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def retrieval_report(
    X: np.ndarray, labels: np.ndarray, *, metric: str = "cosine", scaler: str = "Normalizer"
) -> RetrievalReport:
    """Leave-one-out precision@1 and MAP@R (Musgrave et al. 2020) in one pass, plus P@1 per label,
    which says *which* albums a model keeps together.

    Each song queries all the others; songs whose label has no other member are skipped. Equal
    distances are ranked by row index, so results are reproducible.

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
    labels : np.ndarray, shape (n,)

    Raises
    ------
    ParameterError
        When no song has a same-label partner.
    """
    check_metric(metric)
    labels = np.asarray(labels)
    if labels.shape != (len(X),):
        raise ParameterError(f"labels must have shape ({len(X)},), got {labels.shape}")
    names, lab, counts = np.unique(labels, return_inverse=True, return_counts=True)
    R = counts[lab] - 1
    queries = np.flatnonzero(R > 0)
    if len(queries) == 0:
        raise ParameterError("no label is shared by two songs, so retrieval cannot be scored")
    Xs = scale(X, scaler)
    V = default_variances(Xs)
    n = len(Xs)
    step = max(1, _MATRIX_BUDGET // n)
    hits1, aps = [], []
    for s in range(0, len(queries), step):
        q = queries[s : s + step]
        D = pairwise_distances(Xs[q], Xs, metric, variances=V)
        D[np.arange(len(q)), q] = np.inf
        r_max = int(R[q].max())  # at most n - 1, so the query itself (at inf) is never ranked
        ranked, _ = smallest_k(D, r_max)
        rel = lab[ranked] == lab[q][:, None]
        within = np.arange(r_max)[None, :] < R[q][:, None]
        rel &= within
        precision = np.cumsum(rel, axis=1) / np.arange(1, r_max + 1)
        aps.append((precision * rel).sum(axis=1) / R[q])
        hits1.append(rel[:, 0])
    hits = np.concatenate(hits1)
    per_hits = np.bincount(lab[queries], weights=hits, minlength=len(names))
    per_queries = np.bincount(lab[queries], minlength=len(names))
    by_label = {
        str(names[i]): (int(per_hits[i]), int(per_queries[i])) for i in range(len(names)) if per_queries[i]
    }
    return RetrievalReport(float(hits.mean()), float(np.concatenate(aps).mean()), by_label, queries, hits)


def label_balanced_p_at_1(by_label: dict[str, tuple[int, int]]) -> float:
    """P@1 with every label weighing the same: the mean of each label's share of hits.

    Pooled P@1 counts songs, so one big album can carry a model (0 A.D. is 61 of the 227 songs of
    our pooled held-out set, docs/QUALITY.md); this says whether it keeps albums together in general.
    ``by_label`` is :attr:`RetrievalReport.by_label` (label -> (hits, queries)); NaN when empty.
    """
    shares = [hits / queries for hits, queries in by_label.values() if queries]
    return float(np.mean(shares)) if shares else float("nan")


def retrieval_scores(
    X: np.ndarray, labels: np.ndarray, *, metric: str = "cosine", scaler: str = "Normalizer"
) -> tuple[float, float]:
    """``(p_at_1, map_at_r)`` in [0, 1] (see :func:`retrieval_report`)."""
    r = retrieval_report(X, labels, metric=metric, scaler=scaler)
    return r.p_at_1, r.map_at_r


def precision_at_1(
    X: np.ndarray, labels: np.ndarray, *, metric: str = "cosine", scaler: str = "Normalizer"
) -> float:
    """Fraction of songs whose nearest other song shares their label (see :func:`retrieval_scores`)."""
    return retrieval_scores(X, labels, metric=metric, scaler=scaler)[0]


def map_at_r(
    X: np.ndarray, labels: np.ndarray, *, metric: str = "cosine", scaler: str = "Normalizer"
) -> float:
    """Mean average precision at R, R = number of other songs with the query's label."""
    return retrieval_scores(X, labels, metric=metric, scaler=scaler)[1]
