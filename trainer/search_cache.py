"""The search indexes a long-lived program (the window) keeps, within a memory budget.

A :class:`~trainer.search.SearchIndex` holds two float32 copies of a library's matrix (scaled,
and scaled to unit rows) and, above ``ANN_THRESHOLD`` songs, an HNSW graph per distance: about
1 GB per model and scaler at a million songs.  :class:`SearchCache` keeps the indexes most
recently used, per (model key, scaler), up to :data:`MAX_BYTES` (the one in use always stays), so
switching back to a scaler is instant while memory stays bounded.  :func:`prepare_search` is the
long part of making one (seconds to a minute at a million songs), for a worker thread.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from .jobs import ProgressFn, StopFn, report
from .search import SearchIndex

#: Memory the cached indexes may take together; the most recently used one is kept whatever its size.
MAX_BYTES = 2 << 30

Key = tuple[str, str]  #: (model key, scaler)


class SearchCache:
    """Search indexes by (model key, scaler), least recently used evicted first."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._indexes: OrderedDict[Key, SearchIndex] = OrderedDict()

    def __contains__(self, key: Key) -> bool:
        return key in self._indexes

    def __len__(self) -> int:
        return len(self._indexes)

    def get(self, key: Key) -> SearchIndex | None:
        """The index of ``key``, now the most recently used; None when not cached."""
        index = self._indexes.get(key)
        if index is not None:
            self._indexes.move_to_end(key)
        return index

    def put(self, key: Key, index: SearchIndex) -> None:
        self._indexes[key] = index
        self._indexes.move_to_end(key)
        self._evict()

    def drop(self, model_key: str) -> None:
        """Forget every index of one model (its embeddings changed)."""
        for key in [k for k in self._indexes if k[0] == model_key]:
            del self._indexes[key]

    def clear(self) -> None:
        self._indexes.clear()

    def nbytes(self) -> int:
        return sum(index.nbytes for index in self._indexes.values())

    def _evict(self) -> None:
        while len(self._indexes) > 1 and self.nbytes() > self.max_bytes:
            self._indexes.popitem(last=False)


def prepare_search(
    matrix: np.ndarray,
    scaler: str,
    metric: str,
    index: SearchIndex | None = None,
    *,
    graph_dir: Path | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> SearchIndex:
    """A ``SearchIndex`` of ``matrix`` under ``scaler`` (or ``index``, already built) that can answer
    ``metric`` at once: scaled rows, and for a big library the HNSW graph of that metric (read from
    ``graph_dir`` when it was kept there)."""
    if index is None:
        report(progress, 0, 1, f"scaling {len(matrix):,} embeddings")
        index = SearchIndex(matrix, scaler, graph_dir=graph_dir)
    index.prepare(metric, progress=progress, should_stop=should_stop)
    return index
