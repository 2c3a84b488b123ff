"""Approximate nearest neighbours: a faiss HNSW graph over a library's scaled rows, and where
graphs are kept between sessions.

Above ``ANN_THRESHOLD`` songs :class:`~trainer.search.SearchIndex` answers cosine and euclidean
queries on a graph, whose build takes about 10 s per 100,000 songs on two cores; a graph is kept
in the home's ``graphs`` folder under a hash of the rows it was built from, so the next session
(the window's, or ``musicsim query``'s) reads it back in a fraction of that
(docs/PERFORMANCE.md, "Search").
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .distances import _as_matrix, _unit_rows
from .errors import ParameterError
from .jobs import ProgressFn, StopFn, check_stop, report

#: Metrics :class:`AnnIndex` supports (inner product on unit rows, and L2).
ANN_METRICS = ("cosine", "euclidean")
#: Graphs kept in a home's graphs folder (the most recently used); each is about the size of
#: one float32 copy of its library.
KEEP_GRAPHS = 4


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

    The defaults (``m=16, ef_construction=40, ef_search=64``) are the fastest settings whose
    recall@10 against exact search stays above 0.99 in ``benchmarks/bench_query.py``; the figures
    are in docs/PERFORMANCE.md.
    """

    def __init__(self, index: object, metric: str, dim: int, ef_search: int) -> None:
        self._index = index
        self.metric = metric
        self.dim = dim
        self.ef_search = ef_search

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def nbytes(self) -> int:
        """About what the graph takes in memory: its float32 rows and its links."""
        m = int(getattr(getattr(self._index, "hnsw", None), "nb_neighbors", lambda level: 32)(0))
        return len(self) * (4 * self.dim + 4 * m)

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

    def keep(self, path: Path) -> None:
        """Write the graph to ``path`` (atomically; :func:`graph_file` names it) for a later
        session, and drop the oldest graphs beyond :data:`KEEP_GRAPHS` in that folder.  A graph
        that cannot be written is simply not kept."""
        import faiss

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path, suffix=".npz") as tmp:
                np.savez(
                    tmp,
                    index=faiss.serialize_index(self._index),
                    metric=self.metric,
                    ef_search=self.ef_search,
                )
            kept = sorted(path.parent.glob("hnsw-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[KEEP_GRAPHS:]:
                old.unlink(missing_ok=True)
        except OSError:
            pass

    @classmethod
    def load_if_valid(cls, path: Path) -> AnnIndex | None:
        """The graph :meth:`keep` wrote to ``path``; None when there is none or it cannot be read
        (a damaged file is then built anew)."""
        import faiss

        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                index = faiss.deserialize_index(data["index"])
                metric, ef_search = str(data["metric"]), int(data["ef_search"])
        except (OSError, KeyError, ValueError, RuntimeError):
            return None
        path.touch()  # recently used: kept longest
        return cls(index, metric, index.d, ef_search)


def graph_file(folder: str | os.PathLike[str], X_scaled: np.ndarray, metric: str, params: dict) -> Path:
    """Where the graph of these exact rows, metric and build settings is kept: a name made of a
    hash of all of them, so a graph is only ever read back for the rows it was built from."""
    import faiss

    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([metric, sorted(params.items()), faiss.__version__, X_scaled.shape]).encode())
    for start in range(0, len(X_scaled), 65_536):
        h.update(np.ascontiguousarray(X_scaled[start : start + 65_536], dtype=np.float32).tobytes())
    return Path(folder) / f"hnsw-{h.hexdigest()}.npz"
