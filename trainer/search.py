"""Distances, scalers, exact top-k and approximate (HNSW) search over song embeddings.

The nine distances and three scalers are the ones the thesis evaluated (section 3.4.3), in the
thesis's order, so the 27-way evaluation table and the GUI's menus are built from the same tuples.

Conventions that differ from SciPy, chosen so that no finite input ever yields NaN:

* ``cosine`` and ``correlation``: a zero vector (for correlation: a constant one) has no
  direction. Two such vectors are at distance 0 (they are identical in every way the metric can
  see); one such vector and a vector with a direction are at distance 1 (similarity 0, as for
  orthogonal vectors). SciPy returns NaN in both cases. Results are clipped to ``[0, 2]``.
* ``seuclidean``: components whose variance is 0 are ignored (they carry no information about
  the reference set, and SciPy would divide by zero).
* ``minkowski`` uses ``p = 2`` -- SciPy's default, and what the thesis must have used, since its
  minkowski scores equal its euclidean scores in every row of Appendix A.
* ``kulsinski`` is SciPy's former boolean definition (removed in SciPy 1.11): inputs are turned
  into booleans (nonzero is True), as ``cdist(..., "kulsinski")`` did.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ParameterError
from .jobs import ProgressFn, StopFn, check_stop, report

if TYPE_CHECKING:  # scikit-learn takes ~2 s to import: the app imports this module before its window shows
    from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

DISTANCES = (
    "chebyshev",
    "euclidean",
    "minkowski",
    "hamming",
    "cosine",
    "cityblock",
    "seuclidean",
    "correlation",
    "kulsinski",
)
SCALERS = ("MinMaxScaler", "StandardScaler", "Normalizer")

#: Metrics :class:`AnnIndex` supports (inner product on unit rows, and L2).
ANN_METRICS = ("cosine", "euclidean")

#: Above this many songs :class:`SearchIndex` answers cosine/euclidean queries approximately.
#: Exact search is one memory-bound matrix-vector product plus a partial sort: about 4 ms at
#: 100k x 128 float32 on a 2-core VM, so a few ms up to this size on a typical desktop -- fast
#: enough to re-rank as the user types. Beyond it exact cost keeps growing linearly while an HNSW
#: graph's grows logarithmically, and the graph's build time (about 10 s per 100k songs on two
#: cores) starts to pay for itself.
ANN_THRESHOLD = 200_000

_CDIST_NAMES = {
    "chebyshev": "chebyshev",
    "euclidean": "euclidean",
    "minkowski": "euclidean",  # p = 2, see the module docstring
    "hamming": "hamming",
    "cityblock": "cityblock",
    "seuclidean": "seuclidean",
}
# Extra candidates the float32 fast paths keep before the exact float64 re-ranking, so rounding
# near the k-th distance cannot push a true neighbour out.
_RERANK_EXTRA = 32


def check_metric(metric: str) -> str:
    """Return ``metric`` if it is one of :data:`DISTANCES`, else raise :class:`ParameterError`."""
    if metric not in DISTANCES:
        raise ParameterError(f"unknown distance '{metric}'; choose one of: {', '.join(DISTANCES)}")
    return metric


def check_scaler(scaler: str) -> str:
    """Return ``scaler`` if it is one of :data:`SCALERS`, else raise :class:`ParameterError`."""
    if scaler not in SCALERS:
        raise ParameterError(f"unknown scaler '{scaler}'; choose one of: {', '.join(SCALERS)}")
    return scaler


def _as_matrix(X: np.ndarray, name: str, *, keep_float32: bool = False) -> np.ndarray:
    """``X`` as a finite float64 matrix ``(n, d)`` with ``d >= 1``; one-line errors otherwise.

    ``keep_float32`` leaves float32 input as it is, to spare a copy of a large library.
    """
    X = np.asarray(X)
    if not (keep_float32 and X.dtype == np.float32):
        X = X.astype(np.float64, copy=False)
    if X.ndim != 2 or X.shape[1] < 1:
        raise ParameterError(f"{name} must be a 2-D array (n, d) with d >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ParameterError(f"{name} contains NaN or infinite values")
    return X


def make_scaler(name: str) -> MinMaxScaler | StandardScaler | Normalizer:
    """A new, unfitted scikit-learn scaler for one of :data:`SCALERS`."""
    from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

    check_scaler(name)
    return {"MinMaxScaler": MinMaxScaler, "StandardScaler": StandardScaler, "Normalizer": Normalizer}[name]()


def scale(X: np.ndarray, scaler: str, fit_on: np.ndarray | None = None) -> np.ndarray:
    """Rescale embeddings the way the thesis evaluation did.

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
        Embeddings to transform (float32 or float64).
    scaler : str
        One of :data:`SCALERS`.
    fit_on : np.ndarray, shape (m, d), optional
        Rows the scaler learns its statistics from; ``X`` itself when omitted. Search fits on the
        library and transforms the query with the same statistics.

    Returns
    -------
    np.ndarray, shape (n, d), float64
        Constant columns (MinMax/Standard) and zero rows (Normalizer) map to 0, never NaN.
    """
    X = _as_matrix(X, "X")
    ref = X if fit_on is None else _as_matrix(fit_on, "fit_on")
    if ref.shape[1] != X.shape[1]:
        raise ParameterError(f"fit_on has {ref.shape[1]} columns but X has {X.shape[1]}")
    return make_scaler(scaler).fit(ref).transform(X).astype(np.float64, copy=False)


def default_variances(R: np.ndarray) -> np.ndarray:
    """Per-component variance ``(d,)`` of ``R (m, d)`` with ``ddof=1`` as SciPy uses for seuclidean.

    With a single row there is no spread to estimate, so every component gets variance 1 (plain
    Euclidean distance).
    """
    R = np.asarray(R, dtype=np.float64)
    if R.shape[0] < 2:
        return np.ones(R.shape[1])
    return np.var(R, axis=0, ddof=1)


def _chunks(n: int, size: int = 65_536) -> list[slice]:
    return [slice(start, min(n, start + size)) for start in range(0, n, size)]


def _chunked_variances(X: np.ndarray) -> np.ndarray:
    """:func:`default_variances` of a large float32 ``X (m, d)`` in float64, one chunk at a time."""
    if X.shape[0] < 2:
        return np.ones(X.shape[1])
    mean = sum(X[sl].sum(axis=0, dtype=np.float64) for sl in _chunks(X.shape[0])) / X.shape[0]
    sq = sum(((X[sl] - mean) ** 2).sum(axis=0) for sl in _chunks(X.shape[0]))
    return sq / (X.shape[0] - 1)


def _check_variances(variances: np.ndarray, d: int) -> np.ndarray:
    V = np.asarray(variances, dtype=np.float64)
    if V.shape != (d,) or not np.all(np.isfinite(V)) or np.any(V < 0):
        raise ParameterError(f"variances must be {d} finite non-negative numbers, got shape {V.shape}")
    return V


def _unit_rows(X: np.ndarray, center: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``X (n, d)`` scaled to unit L2 norm and the mask ``(n,)`` of rows without direction.

    Dividing by the largest magnitude first keeps tiny and huge rows from under/overflowing.
    """
    if center:
        X = X - X.mean(axis=1, keepdims=True)
    peak = np.max(np.abs(X), axis=1, keepdims=True)
    flat = peak[:, 0] == 0
    Y = X / np.where(flat[:, None], 1.0, peak)
    norm = np.sqrt(np.einsum("ij,ij->i", Y, Y))[:, None]
    return Y / np.where(flat[:, None], 1.0, norm), flat


def _kulsinski_counts(A: np.ndarray, B: np.ndarray, paired: bool) -> tuple[np.ndarray, ...]:
    a = (A != 0).astype(np.float64)
    b = (B != 0).astype(np.float64)
    if paired:
        ntt = np.einsum("ij,ij->i", a, b)
        na, nb = a.sum(axis=1), b.sum(axis=1)
    else:
        ntt = a @ b.T
        na, nb = a.sum(axis=1)[:, None], b.sum(axis=1)[None, :]
    return ntt, na - ntt, nb - ntt


def _kulsinski_formula(ntt: np.ndarray, ntf: np.ndarray, nft: np.ndarray, n: int) -> np.ndarray:
    return (ntf + nft - ntt + n) / (ntf + nft + n)


def kulsinski(u: np.ndarray, v: np.ndarray) -> float:
    """Kulsinski dissimilarity of two vectors ``(d,)``, SciPy's former boolean definition.

    ``(ntf + nft - ntt + n) / (ntf + nft + n)`` where ``ntf`` counts positions where ``u`` is
    nonzero and ``v`` is zero, and so on; ``n = d``. Kept because the thesis scored with it and
    SciPy 1.11 removed it.
    """
    m = _as_matrix(np.atleast_2d(u), "u")
    w = _as_matrix(np.atleast_2d(v), "v")
    if m.shape != w.shape or m.shape[0] != 1:
        raise ParameterError(f"u and v must be vectors of the same length, got {m.shape} and {w.shape}")
    ntt, ntf, nft = _kulsinski_counts(m, w, paired=True)
    return float(_kulsinski_formula(ntt, ntf, nft, m.shape[1])[0])


def pairwise_distances(
    Q: np.ndarray, R: np.ndarray, metric: str, *, variances: np.ndarray | None = None
) -> np.ndarray:
    """All distances between query rows and reference rows.

    Parameters
    ----------
    Q : np.ndarray, shape (n, d)
    R : np.ndarray, shape (m, d)
    metric : str
        One of :data:`DISTANCES`.
    variances : np.ndarray, shape (d,), optional
        For ``seuclidean``; defaults to :func:`default_variances` of ``R`` (not of ``Q`` and ``R``
        stacked as ``cdist`` does), so a query's ranking does not depend on what it is batched with.

    Returns
    -------
    np.ndarray, shape (n, m), float64
    """
    from scipy.spatial.distance import cdist  # ~0.8 s to import: not before the app's window shows

    check_metric(metric)
    Q, R = _as_matrix(Q, "Q"), _as_matrix(R, "R")
    if Q.shape[1] != R.shape[1]:
        raise ParameterError(f"Q has {Q.shape[1]} columns but R has {R.shape[1]}")
    if metric in ("cosine", "correlation"):
        center = metric == "correlation"
        (uq, fq), (ur, fr) = _unit_rows(Q, center), _unit_rows(R, center)
        sim = uq @ ur.T
        sim[np.ix_(fq, fr)] = 1.0
        return np.clip(1.0 - sim, 0.0, 2.0)
    if metric == "kulsinski":
        return _kulsinski_formula(*_kulsinski_counts(Q, R, paired=False), Q.shape[1])
    if metric == "seuclidean":
        V = default_variances(R) if variances is None else _check_variances(variances, R.shape[1])
        keep = V > 0
        if not keep.any():
            return np.zeros((Q.shape[0], R.shape[0]))
        return cdist(Q[:, keep], R[:, keep], "seuclidean", V=V[keep])
    return cdist(Q, R, _CDIST_NAMES[metric])


def paired_distances(
    A: np.ndarray, B: np.ndarray, metric: str, *, variances: np.ndarray | None = None
) -> np.ndarray:
    """Distance between row ``i`` of ``A`` and row ``i`` of ``B``, for every ``i`` at once.

    Scoring hundreds of thousands of triplets needs only these diagonals, never the full matrix.

    Parameters
    ----------
    A, B : np.ndarray, shape (n, d)
    metric : str
        One of :data:`DISTANCES`.
    variances : np.ndarray, shape (d,), optional
        For ``seuclidean``; defaults to :func:`default_variances` of ``A`` and ``B`` stacked, which
        keeps the result symmetric in ``A`` and ``B``.

    Returns
    -------
    np.ndarray, shape (n,), float64
        Equal to ``np.diag(pairwise_distances(A, B, metric, variances=...))``.
    """
    check_metric(metric)
    A, B = _as_matrix(A, "A"), _as_matrix(B, "B")
    if A.shape != B.shape:
        raise ParameterError(f"A and B must have the same shape, got {A.shape} and {B.shape}")
    if metric in ("cosine", "correlation"):
        center = metric == "correlation"
        (ua, fa), (ub, fb) = _unit_rows(A, center), _unit_rows(B, center)
        sim = np.einsum("ij,ij->i", ua, ub)
        sim[fa & fb] = 1.0
        return np.clip(1.0 - sim, 0.0, 2.0)
    if metric == "kulsinski":
        return _kulsinski_formula(*_kulsinski_counts(A, B, paired=True), A.shape[1])
    if metric == "hamming":
        return np.mean(A != B, axis=1)
    diff = np.abs(A - B)
    if metric == "chebyshev":
        return diff.max(axis=1)
    if metric == "cityblock":
        return diff.sum(axis=1)
    if metric == "seuclidean":
        V = variances
        V = default_variances(np.vstack([A, B])) if V is None else _check_variances(V, A.shape[1])
        keep = V > 0
        # Divide rather than multiply by 1/V: a subnormal V would make 1/V inf and 0 * inf NaN.
        # A tiny V may still overflow to inf, as in cdist; inf is a valid, comparable distance.
        with np.errstate(over="ignore"):
            return np.sqrt((diff[:, keep] ** 2 / V[keep]).sum(axis=1))
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))  # euclidean, minkowski (p = 2)


def smallest_k(D: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` smallest entries of each row, ascending.

    Equal values are ordered by the lower column index, also where they straddle the k-th place,
    so rankings are reproducible and independent of how the partial sort splits ties.

    Parameters
    ----------
    D : np.ndarray, shape (n, m)
    k : int
        At most ``m`` are returned.

    Returns
    -------
    idx : np.ndarray, shape (n, min(k, m)), int64
    vals : np.ndarray, shape (n, min(k, m))
    """
    n, m = D.shape
    k = min(k, m)
    if k < m:
        part = np.argpartition(D, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(D, part, axis=1).max(axis=1)
        for row in np.flatnonzero((D <= kth[:, None]).sum(axis=1) > k):
            cand = np.flatnonzero(D[row] <= kth[row])
            part[row] = cand[np.lexsort((cand, D[row, cand]))[:k]]
    else:
        part = np.tile(np.arange(m), (n, 1))
    vals = np.take_along_axis(D, part, axis=1)
    order = np.lexsort((part, vals), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64), np.take_along_axis(vals, order, axis=1)


def _exclusion_mask(m: int, exclude: Sequence[int] | np.ndarray | None) -> np.ndarray | None:
    if exclude is None or len(exclude) == 0:
        return None
    ex = np.asarray(exclude, dtype=np.int64)
    if ex.min() < 0 or ex.max() >= m:
        raise ParameterError(f"excluded ids must lie in 0..{m - 1}")
    mask = np.zeros(m, dtype=bool)
    mask[ex] = True
    return mask


def _available(m: int, k: int, mask: np.ndarray | None) -> int:
    if k < 1:
        raise ParameterError(f"k must be at least 1, got {k}")
    return min(k, m - (0 if mask is None else int(mask.sum())))


def top_k(
    q: np.ndarray,
    X: np.ndarray,
    k: int,
    *,
    metric: str = "cosine",
    scaler: str = "Normalizer",
    exclude: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest rows of ``X`` to ``q`` (brute force; see :class:`SearchIndex` for speed).

    Parameters
    ----------
    q : np.ndarray, shape (d,)
    X : np.ndarray, shape (m, d)
    k : int
        Fewer are returned when fewer than ``k`` rows remain after ``exclude``.
    metric, scaler : str
        From :data:`DISTANCES` and :data:`SCALERS`; the scaler is fitted on ``X`` and applied to ``q``.
    exclude : sequence of int, optional
        Row ids never returned (typically the query song itself).

    Returns
    -------
    idx : np.ndarray, shape (k,), int64
    dist : np.ndarray, shape (k,), float64, ascending
    """
    X = _as_matrix(X, "X")
    q = _as_matrix(np.atleast_2d(q), "q")
    Xs, qs = scale(X, scaler), scale(q, scaler, fit_on=X)
    D = pairwise_distances(qs, Xs, metric, variances=default_variances(Xs))
    mask = _exclusion_mask(X.shape[0], exclude)
    k = _available(X.shape[0], k, mask)
    if mask is not None:
        D[:, mask] = np.inf
    idx, dist = smallest_k(D, k)
    return idx[0], dist[0]


class SearchIndex:
    """A library's embeddings, scaled once, ready for fast repeated queries.

    Parameters
    ----------
    X : np.ndarray, shape (m, d)
        Raw embeddings; the scaler is fitted on them.
    scaler : str
        One of :data:`SCALERS`.
    ann : {"auto", "never", "always"}
        ``auto`` answers cosine/euclidean queries with an :class:`AnnIndex` above
        :data:`ANN_THRESHOLD` songs; every other metric is always exact.
    ann_params : dict, optional
        Keyword arguments for :meth:`AnnIndex.build` (``m``, ``ef_construction``, ``ef_search``).

    Attributes
    ----------
    use_ann : bool
        Whether cosine/euclidean queries go to the approximate index.
    backend_reason : str
        One line saying why, for the GUI's status bar.
    """

    def __init__(
        self, X: np.ndarray, scaler: str = "Normalizer", *, ann: str = "auto", ann_params: dict | None = None
    ) -> None:
        if ann not in ("auto", "never", "always"):
            raise ParameterError(f"unknown ann mode '{ann}'; choose one of: auto, never, always")
        X = _as_matrix(X, "X", keep_float32=True)
        self.scaler_name = check_scaler(scaler)
        self._scaler = make_scaler(scaler).fit(X)
        self.n, self.dim = X.shape
        # Scaled in chunks straight into float32 so a million songs never need a float64 copy.
        self.scaled = np.empty((self.n, self.dim), dtype=np.float32)
        self._unit = np.empty((self.n, self.dim), dtype=np.float32)
        for sl in _chunks(self.n):
            part = self._scaler.transform(X[sl]).astype(np.float64, copy=False)
            self.scaled[sl] = part
            self._unit[sl] = _unit_rows(part, center=False)[0]
        self.variances = _chunked_variances(self.scaled)
        self._sqnorms = np.einsum("ij,ij->i", self.scaled, self.scaled)
        self._ann_params = dict(ann_params or {})
        self._ann: dict[str, AnnIndex] = {}
        self.use_ann, self.backend_reason = self._choose_backend(ann)

    def _choose_backend(self, ann: str) -> tuple[bool, str]:
        if ann == "never":
            return False, "exact search (approximate search switched off)"
        if ann == "auto" and self.n <= ANN_THRESHOLD:
            return False, f"exact search ({self.n} songs, at most {ANN_THRESHOLD} need no index)"
        if not faiss_available():
            return False, "exact search (faiss-cpu is not installed, so no approximate index)"
        return True, f"approximate HNSW search for cosine/euclidean ({self.n} songs)"

    def backend_for(self, metric: str) -> str:
        """``"ann"`` or ``"exact"``: what a query with ``metric`` will use."""
        return "ann" if self.use_ann and check_metric(metric) in ANN_METRICS else "exact"

    def ready(self, metric: str) -> bool:
        """Whether a query with ``metric`` can start at once, with no approximate index to build
        first (a GUI builds that with :meth:`prepare` on a worker instead)."""
        return self.backend_for(metric) == "exact" or metric in self._ann

    def prepare(
        self, metric: str, *, progress: ProgressFn | None = None, should_stop: StopFn | None = None
    ) -> None:
        """Build the approximate index for ``metric`` now (a long job) instead of on the first query."""
        if self.backend_for(metric) == "ann" and metric not in self._ann:
            self._ann[metric] = AnnIndex.build(
                self.scaled, metric, progress=progress, should_stop=should_stop, **self._ann_params
            )

    def transform(self, q: np.ndarray) -> np.ndarray:
        """Scale query rows ``(n, d)`` with the library's fitted scaler -> ``(n, d)`` float64."""
        q = _as_matrix(q, "q")
        if q.shape[1] != self.dim:
            raise ParameterError(f"query has {q.shape[1]} dimensions, the index has {self.dim}")
        return _fast_transform(self._scaler, q)

    def query(
        self,
        q: np.ndarray,
        k: int,
        metric: str = "cosine",
        exclude_ids: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest library rows to each query.

        Parameters
        ----------
        q : np.ndarray, shape (d,) or (n, d)
            Raw (unscaled) query embeddings.
        k : int
        metric : str
            One of :data:`DISTANCES`.
        exclude_ids : sequence of int, optional
            Rows never returned, for every query.

        Returns
        -------
        idx : np.ndarray, shape (k,) or (n, k), int64
        dist : np.ndarray, shape (k,) or (n, k), float64, ascending; the same distances
            :func:`pairwise_distances` gives on the scaled rows.
        """
        check_metric(metric)
        single = np.ndim(q) == 1
        idx, dist = self.query_scaled(self.transform(np.atleast_2d(q)), k, metric, exclude_ids)
        return (idx[0], dist[0]) if single else (idx, dist)

    def query_scaled(
        self,
        qs: np.ndarray,
        k: int,
        metric: str = "cosine",
        exclude_ids: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`query` for rows ``qs (n, d)`` already in the scaled space, e.g. points between two
        songs (``trainer.playlists``); returns ``idx, dist`` of shape ``(n, k)``."""
        check_metric(metric)
        qs = _as_matrix(qs, "qs")
        if qs.shape[1] != self.dim:
            raise ParameterError(f"query has {qs.shape[1]} dimensions, the index has {self.dim}")
        mask = _exclusion_mask(self.n, exclude_ids)
        k = _available(self.n, k, mask)
        if self.backend_for(metric) == "ann":
            idx, dist = self._approximate(qs, k, metric, mask, exclude_ids)
        elif metric in ANN_METRICS:
            idx, dist = self._fast_exact(qs, k, metric, mask)
        else:
            D = pairwise_distances(qs, self.scaled, metric, variances=self.variances)
            if mask is not None:
                D[:, mask] = np.inf
            idx, dist = smallest_k(D, k)
        return idx, dist

    def _approximate(
        self,
        qs: np.ndarray,
        k: int,
        metric: str,
        mask: np.ndarray | None,
        exclude_ids: Sequence[int] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """HNSW candidates re-ranked with exact distances, so shown distances match exact search.

        A query for which the graph finds fewer than ``k`` rows is answered exactly instead, so
        callers never see a missing (-1) result.
        """
        self.prepare(metric)
        cand, _ = self._ann[metric].query(qs, k, exclude_ids=exclude_ids)
        idx = np.empty((qs.shape[0], k), dtype=np.int64)
        dist = np.empty((qs.shape[0], k))
        for i in range(qs.shape[0]):
            rows = cand[i][cand[i] >= 0]
            if len(rows) < k:
                found = self._fast_exact(qs[i : i + 1], k, metric, mask)
                idx[i], dist[i] = found[0][0], found[1][0]
                continue
            j, d = smallest_k(pairwise_distances(qs[i : i + 1], self.scaled[rows], metric), k)
            idx[i], dist[i] = rows[j[0]], d[0]
        return idx, dist

    def _fast_exact(
        self, qs: np.ndarray, k: int, metric: str, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """float32 matrix product to find candidates, then exact float64 distances to rank them."""
        # (m, d) @ (d, n) keeps the big matrix in its C order: a matrix-vector product per query.
        if metric == "cosine":
            uq, _ = _unit_rows(qs, center=False)
            score = (self._unit @ uq.astype(np.float32).T).T
            np.negative(score, out=score)
        else:
            score = (self.scaled @ qs.astype(np.float32).T).T
            score *= -2.0
            score += self._sqnorms[None, :]
        if mask is not None:
            score[:, mask] = np.inf
        cand, _ = smallest_k(score, min(self.n, k + _RERANK_EXTRA))
        idx = np.empty((qs.shape[0], k), dtype=np.int64)
        dist = np.empty((qs.shape[0], k))
        for i in range(qs.shape[0]):
            rows = cand[i] if mask is None else cand[i][~mask[cand[i]]]
            D = pairwise_distances(qs[i : i + 1], self.scaled[rows], metric)
            j, d = smallest_k(D, k)
            idx[i], dist[i] = rows[j[0]], d[0]
        return idx, dist


def _fast_transform(scaler: MinMaxScaler | StandardScaler | Normalizer, q: np.ndarray) -> np.ndarray:
    """The fitted scaler's transform in plain numpy: the same maths as scikit-learn's, without its
    ~0.5 ms of input validation per call, which dominated a single query at 1M songs."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler  # imported already by make_scaler

    q = np.asarray(q, dtype=np.float64)
    if isinstance(scaler, MinMaxScaler):
        return q * scaler.scale_ + scaler.min_
    if isinstance(scaler, StandardScaler):
        return (q - scaler.mean_) / scaler.scale_
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    return q / np.where(norms == 0.0, 1.0, norms)


def faiss_available() -> bool:
    """Whether the optional ``faiss`` package can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class AnnIndex:
    """Approximate nearest neighbours with a faiss HNSW graph (cosine or euclidean only).

    Cosine uses inner product on unit rows; euclidean uses squared L2. Distances returned are in
    the same units as :func:`pairwise_distances` (``1 - cos`` and plain L2).

    Defaults were measured on clustered synthetic 128-D data (1 cluster per 100 songs) on a
    busy 2-core CPU: ``m=16, ef_construction=40`` builds 100k songs in about 6 s (15 CPU-seconds)
    where ``m=32`` took twice as long.  ``benchmarks/bench_query.py`` at 1M songs: ``ef_search=64``
    gives recall@10 0.998 against exact search at ~1.0 ms per query, ``192`` 0.999 at 2.3 ms, so 64
    is the default.
    """

    def __init__(self, index: object, metric: str, dim: int, ef_search: int) -> None:
        self._index = index
        self.metric = metric
        self.dim = dim
        self.ef_search = ef_search

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(
        cls,
        X_scaled: np.ndarray,
        metric: str,
        *,
        m: int = 16,
        ef_construction: int = 40,
        ef_search: int = 64,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        chunk: int = 20_000,
    ) -> AnnIndex:
        """Build the graph over already-scaled rows ``X_scaled (n, d)``.

        Rows are converted and added ``chunk`` at a time, so memory stays near the index's own
        size, progress is reported and ``should_stop`` is checked between chunks.
        """
        import faiss

        if metric not in ANN_METRICS:
            raise ParameterError(f"approximate search supports {', '.join(ANN_METRICS)}, not '{metric}'")
        if np.ndim(X_scaled) != 2 or np.shape(X_scaled)[1] < 1:
            raise ParameterError(f"X_scaled must be a 2-D array (n, d), got shape {np.shape(X_scaled)}")
        n, dim = np.shape(X_scaled)
        kind = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
        index = faiss.IndexHNSWFlat(dim, m, kind)
        index.hnsw.efConstruction = ef_construction
        for start in range(0, n, chunk):
            check_stop(should_stop)
            index.add(cls._prepare(_as_matrix(X_scaled[start : start + chunk], "X_scaled"), metric))
            report(progress, min(n, start + chunk), n, "building approximate index")
        return cls(index, metric, dim, ef_search)

    @staticmethod
    def _prepare(X: np.ndarray, metric: str) -> np.ndarray:
        if metric == "cosine":
            X, _ = _unit_rows(X, center=False)
        return np.ascontiguousarray(X, dtype=np.float32)

    def query(
        self,
        q: np.ndarray,
        k: int,
        *,
        ef_search: int | None = None,
        exclude_ids: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate ``k`` nearest rows for each scaled query row.

        Parameters
        ----------
        q : np.ndarray, shape (n, d)
            Already scaled like the indexed rows.
        k : int
        ef_search : int, optional
            Candidate list size; larger is slower and more exact (at least ``k`` is used).
        exclude_ids : sequence of int, optional

        Returns
        -------
        idx : np.ndarray, shape (n, k), int64; -1 where the graph found fewer than ``k`` rows
        dist : np.ndarray, shape (n, k), float64; ``inf`` where ``idx`` is -1
        """
        import faiss

        q = self._prepare(_as_matrix(np.atleast_2d(q), "q"), self.metric)
        if q.shape[1] != self.dim:
            raise ParameterError(f"query has {q.shape[1]} dimensions, the index has {self.dim}")
        excluded = set() if exclude_ids is None else {int(i) for i in exclude_ids}
        want = k + len(excluded)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(want, ef_search or self.ef_search)
        raw, ids = self._index.search(q, want, params=params)
        idx = np.full((q.shape[0], k), -1, dtype=np.int64)
        dist = np.full((q.shape[0], k), np.inf)
        for i in range(q.shape[0]):
            keep = [j for j in range(want) if ids[i, j] >= 0 and int(ids[i, j]) not in excluded][:k]
            idx[i, : len(keep)] = ids[i, keep]
            dist[i, : len(keep)] = self._to_distance(raw[i, keep].astype(np.float64))
        return idx, dist

    def _to_distance(self, raw: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return np.clip(1.0 - raw, 0.0, 2.0)
        return np.sqrt(np.maximum(raw, 0.0))

    def save(self, path: str | os.PathLike) -> None:
        """Write the index and its metric to one ``.npz`` file, atomically."""
        import faiss

        path = Path(path)
        blob = faiss.serialize_index(self._index)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, index=blob, metric=self.metric, ef_search=self.ef_search)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> AnnIndex:
        """Read an index written by :meth:`save`."""
        import faiss

        try:
            with np.load(path, allow_pickle=False) as data:
                index = faiss.deserialize_index(data["index"])
                metric, ef_search = str(data["metric"]), int(data["ef_search"])
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise ParameterError(f"cannot read approximate index '{path}': {exc}") from exc
        return cls(index, metric, index.d, ef_search)
