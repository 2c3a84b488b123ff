"""Search a library's embeddings: exact top-k, and :class:`SearchIndex`, which scales a library
once and answers repeated queries fast -- exactly, or on an HNSW graph (:mod:`trainer.ann`) above
:data:`ANN_THRESHOLD` songs.  The distances and scalers themselves are :mod:`trainer.distances`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .ann import ANN_METRICS, AnnIndex, faiss_available, graph_file
from .distances import (
    _as_matrix,
    _chunked_variances,
    _chunks,
    _unit_rows,
    check_metric,
    check_scaler,
    default_variances,
    make_scaler,
    pairwise_distances,
    scale,
    smallest_k,
)
from .errors import ParameterError
from .jobs import ProgressFn, StopFn

if TYPE_CHECKING:
    from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler


#: Above this many songs :class:`SearchIndex` answers cosine/euclidean queries approximately.
#: Exact search is one memory-bound matrix-vector product plus a partial sort, milliseconds up to
#: this size -- fast enough to re-rank as the user types.  Beyond it exact cost keeps growing
#: linearly while an HNSW graph's grows logarithmically, and the graph's build time starts to pay
#: for itself (docs/PERFORMANCE.md, "Search").
ANN_THRESHOLD = 200_000

# Extra candidates the float32 fast paths keep before the exact float64 re-ranking, so rounding
# near the k-th distance cannot push a true neighbour out.
_RERANK_EXTRA = 32


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
    graph_dir : path, optional
        Folder where HNSW graphs are kept between sessions (``trainer.paths.graphs_dir``).

    Attributes
    ----------
    use_ann : bool
        Whether cosine/euclidean queries go to the approximate index.
    backend_reason : str
        One line saying why, for the GUI's status bar.
    """

    def __init__(
        self,
        X: np.ndarray,
        scaler: str = "Normalizer",
        *,
        ann: str = "auto",
        ann_params: dict | None = None,
        graph_dir: str | os.PathLike[str] | None = None,
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
        self.graph_dir = Path(graph_dir) if graph_dir is not None else None
        self.use_ann, self.backend_reason = self._choose_backend(ann)

    def _choose_backend(self, ann: str) -> tuple[bool, str]:
        if ann == "never":
            return False, "exact search (approximate search switched off)"
        if ann == "auto" and self.n <= ANN_THRESHOLD:
            return False, f"exact search ({self.n} songs, at most {ANN_THRESHOLD} need no index)"
        if not faiss_available():
            return False, "exact search (faiss-cpu is not installed, so no approximate index)"
        return True, f"approximate HNSW search for cosine/euclidean ({self.n} songs)"

    @property
    def nbytes(self) -> int:
        """Memory the index holds: its two scaled copies of the library and any HNSW graphs."""
        arrays = self.scaled.nbytes + self._unit.nbytes + self._sqnorms.nbytes
        return arrays + sum(ann.nbytes for ann in self._ann.values())

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
        """Build the approximate index for ``metric`` now (a long job) instead of on the first query.

        With ``graph_dir`` the graph is read from there when one was built from the same rows
        before (a second instead of a minute at a million songs), and kept there otherwise."""
        if self.backend_for(metric) != "ann" or metric in self._ann:
            return
        path = graph_file(self.graph_dir, self.scaled, metric, self._ann_params) if self.graph_dir else None
        graph = AnnIndex.load_if_valid(path) if path is not None else None
        if graph is None:
            graph = AnnIndex.build(
                self.scaled, metric, progress=progress, should_stop=should_stop, **self._ann_params
            )
            if path is not None:
                graph.keep(path)
        self._ann[metric] = graph

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
    input validation on every call, which costs more than a whole query of a big library."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler  # imported already by make_scaler

    q = np.asarray(q, dtype=np.float64)
    if isinstance(scaler, MinMaxScaler):
        return q * scaler.scale_ + scaler.min_
    if isinstance(scaler, StandardScaler):
        return (q - scaler.mean_) / scaler.scale_
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    return q / np.where(norms == 0.0, 1.0, norms)
