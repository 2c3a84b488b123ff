"""Which parts of a song's vector a result is alike in: the "why" beside the spectrograms.

The default model's vector is not one opaque code: besides its CNN part it holds fixed statistics
with a meaning a listener can follow (docs/QUALITY.md, "Second-order statistics") — timbre, how
timbre changes, spectral balance, rhythm — and the classic features are named columns; the parts
each architecture declares are in :mod:`trainer.parts`.  For a
query and a result, each part's similarity is placed among the library's songs: "timbre: closer
than 98 % of the library" says more than a cosine of 0.61 would.

Torch-free: the app imports this at query time.
"""

from __future__ import annotations

import numpy as np

from .distances import smallest_k
from .parts import Aspect

#: Percentiles are estimated against at most this many songs of the library: the cost of one
#: explanation stays a few milliseconds at a million songs, and 20,000 songs pin a percentile to
#: well under a point.
REFERENCE_SONGS = 20_000
#: Rows standardised at once when ranking the whole library by one aspect (bounded memory).
_BLOCK_ROWS = 65_536


def _columns(aspect: Aspect) -> slice | list[int]:
    """A slice where the columns are contiguous (a view of the library, no copy), else a list."""
    cols = aspect.columns
    if cols and cols == tuple(range(cols[0], cols[-1] + 1)):
        return slice(cols[0], cols[-1] + 1)
    return list(cols)


def _is_row(query: int | np.ndarray) -> bool:
    """A query is a library row (an int) or the vector of a song from outside the library."""
    return isinstance(query, (int, np.integer))


def _finite(a: np.ndarray) -> np.ndarray:
    """NaN and inf as 0: a broken row explains nothing rather than poisoning the statistics."""
    return np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)


def top_text(share: float) -> str:
    """A percentile as a listener reads it: 0.98 (closer than 98 % of the songs) is "top 2 %"."""
    return f"top {max(1, round(100 * (1 - share)))} %"


#: Below this many songs besides the query a place reads "2nd of 35": a percentage of a few dozen
#: songs says "top 1 %" for the nearest of 35 and for the nearest of 2 alike.
PLACE_BELOW = 100


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, …, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def place_text(share: float, others: int) -> str:
    """Where a result stands among the ``others`` songs besides the query, from its share of
    them less alike (:meth:`AspectRanker.percentiles`): "2nd of 35" below ``PLACE_BELOW`` songs,
    else "top 2 %" (:func:`top_text`)."""
    if others >= PLACE_BELOW or others < 1:
        return top_text(share)
    place = int(round((1.0 - share) * (others - 1))) + 1  # the share is of the others but itself
    return f"{ordinal(min(max(place, 1), others))} of {others}"


class AspectRanker:
    """Places a result's per-aspect similarity to a query among the library's songs.

    Built once per model and library (standardising every column over the library, so "alike"
    means alike relative to this library, as the StandardScaler does), then ``percentiles`` costs
    one small matrix product per aspect and query — against at most ``reference`` songs.
    """

    def __init__(
        self, X: np.ndarray, aspects: list[Aspect], *, reference: int = REFERENCE_SONGS, seed: int = 0
    ) -> None:
        X = np.asarray(X, dtype=np.float32)
        self.aspects = aspects
        self.labels = [a.label for a in aspects]
        self.X = X
        n = len(X)
        self.reference_rows = (
            np.arange(n)
            if n <= reference
            else np.sort(np.random.default_rng(seed).choice(n, reference, replace=False))
        )
        # the column statistics too come from the sample: a constant cost at any size
        sample = _finite(X[self.reference_rows])
        self.mean = sample.mean(axis=0) if n else np.zeros(X.shape[1], np.float32)
        self.scale = np.maximum(sample.std(axis=0), 1e-6) if n else np.ones(X.shape[1], np.float32)
        self._reference = [self._unit(sample, a) for a in aspects]
        self._norms: dict[int, np.ndarray] = {}

    def _row_norms(self, aspect: int) -> np.ndarray:
        """Norms of every library row's standardised part (cached: ``nearest`` needs all of them)."""
        if aspect not in self._norms:
            cols = _columns(self.aspects[aspect])
            out = np.empty(len(self.X), np.float64)
            for start in range(0, len(self.X), _BLOCK_ROWS):
                block = _finite(self.X[start : start + _BLOCK_ROWS, cols])
                z = (block - self.mean[cols]) / self.scale[cols]
                out[start : start + _BLOCK_ROWS] = np.sqrt(np.einsum("ij,ij->i", z, z))
            self._norms[aspect] = np.maximum(out, 1e-12)
        return self._norms[aspect]

    def _unit(self, rows: np.ndarray, aspect: Aspect) -> np.ndarray:
        cols = list(aspect.columns)
        part = _finite(rows[:, cols])
        z = (part - self.mean[cols]) / self.scale[cols]
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def _query(self, query: int | np.ndarray, aspect: Aspect) -> np.ndarray:
        """A library row (an int) or a song's vector from outside the library, as a unit part."""
        row = self.X[[query]] if _is_row(query) else np.asarray(query, np.float32)[None]
        return self._unit(row, aspect)[0]

    def percentiles(self, query_row: int | np.ndarray, result_rows: list[int] | np.ndarray) -> np.ndarray:
        """``(results, aspects)``: the share (0-1) of the library's other songs that are *less*
        alike the query than each result in each aspect — 0.98 reads "closer than 98 %".
        ``query_row`` may also be the vector of a song that is not in the library."""
        result_rows = np.asarray(result_rows, dtype=np.int64)
        out = np.zeros((len(result_rows), len(self.aspects)))
        if len(result_rows) == 0 or not self.aspects:
            return out
        ref = self.reference_rows
        # neither the query nor the result itself is one of "the library's other songs"
        keep = ref != query_row if _is_row(query_row) else np.ones(len(ref), bool)
        at = np.minimum(np.searchsorted(ref, result_rows), len(ref) - 1)
        in_ref = ref[at] == result_rows
        total = int(keep.sum()) - in_ref.astype(int)
        for j, aspect in enumerate(self.aspects):
            q = self._query(query_row, aspect)
            others = self._reference[j] @ q
            sims = self._unit(self.X[result_rows], aspect) @ q
            below = np.searchsorted(np.sort(others[keep]), sims, side="left")
            below -= in_ref & (others[at] < sims)
            out[:, j] = np.where(total > 0, below / np.maximum(total, 1), 0.0)
        return out

    def nearest(self, query_row: int | np.ndarray, aspect: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` songs nearest the query in one aspect alone ("more like this in rhythm"):
        ``(rows, 1 - cosine)``, nearest first, the query (a row) left out, equal scores by row."""
        part = self.aspects[aspect]
        q = self._query(query_row, part)
        cols = _columns(part)
        # cosine of standardised parts without standardising the library: x·(q/σ) − (μ/σ)·q over
        # the row norms, which are computed once per part (a few seconds' worth at a million songs
        # otherwise, on every click)
        weights = (q / self.scale[cols]).astype(np.float32)
        offset = float((self.mean[cols] / self.scale[cols]) @ q)
        norms = self._row_norms(aspect)
        n = len(self.X)
        sims = np.empty(n, np.float64)
        with np.errstate(invalid="ignore", over="ignore"):  # broken rows are dealt with below
            for start in range(0, n, _BLOCK_ROWS):  # a block of rows at a time: bounded temporaries
                rows = slice(start, start + _BLOCK_ROWS)
                sims[rows] = (self.X[rows, cols] @ weights - offset) / norms[rows]
        dist = 1.0 - sims
        dist[~np.isfinite(dist)] = np.inf  # a broken row is nobody's neighbour
        inside = _is_row(query_row)
        top, top_dist = (a[0] for a in smallest_k(dist[None, :], int(k) + inside))  # ties by row
        keep = top != query_row if inside else np.ones(len(top), bool)
        return top[keep][: int(k)], top_dist[keep][: int(k)]
