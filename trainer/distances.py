"""The thesis's nine distances and three scalers over song embeddings, as vectorised functions.

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

from typing import TYPE_CHECKING

import numpy as np

from .errors import ParameterError

if TYPE_CHECKING:  # scikit-learn takes seconds to import: the app imports this module before its window shows
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

_CDIST_NAMES = {
    "chebyshev": "chebyshev",
    "euclidean": "euclidean",
    "minkowski": "euclidean",  # p = 2, see the module docstring
    "hamming": "hamming",
    "cityblock": "cityblock",
    "seuclidean": "seuclidean",
}


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
    from scipy.spatial.distance import cdist  # slow to import: not before the app's window shows

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
