"""Playlists that move through a library's sound: radio from one song, journeys from A to B.

(Longer than most modules: journeys, radio and the figures that judge them share the candidate
search and the step distances below.)

Pure functions over a :class:`trainer.search.SearchIndex` (its scaled matrix and its top-k
queries, exact or HNSW as the index decides), so a journey or a radio step uses the same model,
distance and scaler as the results beside it.  No Qt; the CLI (``musicsim path``, ``musicsim
radio``) and the app's play queue both call these.

**Journey.**  Songs between A and B are the candidates: in a library of at most
:data:`POOL_ALL` songs every song, above that the :data:`POOL_SIZE` nearest songs to
:data:`POOL_POINTS` points spaced evenly on the line from A to B in the scaled space (one batched
top-k query, on the HNSW index where the library has one).  Only candidates closer to B than
A is can be on the way, and a step may only go to a song closer to B than the one before, so the
candidates form a directed acyclic graph ordered by distance to B.  The journey is the path from A
to B with exactly ``steps`` steps that minimises the sum of the steps' distances raised to
:data:`STEP_POWER` -- a shortest path with a penalty on long steps, solved exactly by dynamic
programming over (step, song).  It starts at A, ends at B, cannot repeat a song and gets closer to
B at every step by construction.  ``benchmarks/bench_journey.py`` measured the alternatives
(points on the line snapped to unused songs; Dijkstra on a k-nearest-neighbour graph; powers 1, 2
and 4; an evenness term; steps limited to a kNN graph) on real music; the README has the figures.

**Radio.**  Each next song is the not-yet-played song nearest the last few songs (the last
weighs most, :data:`RADIO_WEIGHTS`), skipping songs of the last song's album or artist while any
candidate within :data:`RADIO_MAX_CANDIDATES` neighbours is from another.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .ann import ANN_METRICS
from .distances import check_metric, paired_distances, pairwise_distances
from .errors import ParameterError
from .labels import tag_or_folder_album, tag_or_folder_artist

if TYPE_CHECKING:
    from .search import SearchIndex

#: Libraries up to this many songs: every song is a journey candidate, and the path is the optimum.
POOL_ALL = 1500
#: Above :data:`POOL_ALL`: about this many candidates, the nearest songs to points on the A-B line.
POOL_SIZE = 2400
#: Points on the A-B line whose nearest songs are the candidates (one top-k query each).
POOL_POINTS = 9
#: How hard long steps are penalised: a journey minimises the sum of step ** STEP_POWER.
STEP_POWER = 2.0
#: Radio: weight of the last, second-last, third-last song when scoring the next one.
RADIO_WEIGHTS = (1.0, 0.5, 0.25)
#: Radio: neighbours of each recent song looked at first, and the most looked at to find one
#: of another album and artist (beyond it a repeat is accepted).
RADIO_CANDIDATES = 32
RADIO_MAX_CANDIDATES = 4096
#: Songs this close are the same audio (one file twice in a library): one of them is enough.
SAME_SONG = 1e-9


@dataclass(frozen=True)
class Playlist:
    """Songs in play order, as rows of the index's matrix, with the distances along the way.

    Attributes
    ----------
    rows : np.ndarray, shape (n,), int64
    steps : np.ndarray, shape (n - 1,), float64
        Distance between consecutive songs.
    kind : str
        ``"journey"`` or ``"radio"``.
    to_end : np.ndarray, shape (n,), float64, or None
        A journey's distance from each song to its last one.
    note : str
        Why the playlist is shorter than asked for, or ``""``.
    """

    rows: np.ndarray
    steps: np.ndarray
    kind: str
    to_end: np.ndarray | None = None
    note: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def mean_step(self) -> float:
        return float(self.steps.mean()) if self.steps.size else 0.0

    @property
    def longest_step(self) -> float:
        return float(self.steps.max()) if self.steps.size else 0.0


def _check_row(index: SearchIndex, row: int, name: str) -> int:
    row = int(row)
    if not 0 <= row < index.n:
        raise ParameterError(f"{name} must be a row of the library, 0..{index.n - 1}; got {row}")
    return row


def step_distances(index: SearchIndex, rows: Sequence[int] | np.ndarray, metric: str) -> np.ndarray:
    """Distances ``(n - 1,)`` between consecutive ``rows (n,)`` under the index's scaler."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size < 2:
        return np.zeros(0)
    X = index.scaled
    return paired_distances(X[rows[:-1]], X[rows[1:]], metric, variances=index.variances)


def distances_to(
    index: SearchIndex, rows: Sequence[int] | np.ndarray, target: int, metric: str
) -> np.ndarray:
    """Distance ``(n,)`` from each of ``rows`` to the row ``target``."""
    rows = np.asarray(rows, dtype=np.int64)
    X = index.scaled
    return pairwise_distances(X[rows], X[[target]], metric, variances=index.variances)[:, 0]


# -- journeys ------------------------------------------------------------------------------------
def journey_pool(index: SearchIndex, start: int, end: int, metric: str) -> np.ndarray:
    """Candidate rows ``(c,)`` for a journey: the whole library up to :data:`POOL_ALL` songs, else
    the nearest songs (:data:`POOL_SIZE` in all) to :data:`POOL_POINTS` points evenly spaced on the
    line from ``start`` to ``end`` in the scaled space, with both ends.  Few points with many songs
    each beat many points with few (a wider tube around the line holds the short steps): on 100,000
    synthetic songs 9 x 267 candidates gave journeys of 10 steps a sum of step² 8 % below 65 x 37,
    and of 30 steps 29 % below."""
    if index.n <= POOL_ALL:
        return np.arange(index.n, dtype=np.int64)
    t = np.linspace(0.0, 1.0, POOL_POINTS)[:, None]
    a, b = index.scaled[start].astype(np.float64), index.scaled[end].astype(np.float64)
    # metrics without a fast top-k path look for candidates by the nearest one that has one
    near = metric if metric in ANN_METRICS else "cosine" if metric == "correlation" else "euclidean"
    idx, _ = index.query_scaled((1.0 - t) * a + t * b, max(8, POOL_SIZE // POOL_POINTS), near)
    return np.unique(np.concatenate([idx.ravel(), [start, end]]))


def _knn_edges(D: np.ndarray, knn: int) -> np.ndarray:
    """Symmetric k-nearest-neighbour graph of ``D (c, c)`` as a boolean matrix."""
    c = D.shape[0]
    k = min(knn, c - 1)
    order = np.argsort(D + np.diag(np.full(c, np.inf)), axis=1)[:, :k]
    edges = np.zeros((c, c), dtype=bool)
    edges[np.repeat(np.arange(c), k), order.ravel()] = True
    return edges | edges.T


def monotone_path(
    D: np.ndarray,
    to_end: np.ndarray,
    start: int,
    end: int,
    steps: int,
    *,
    power: float = STEP_POWER,
    evenness: float = 0.0,
    edges: np.ndarray | None = None,
) -> list[int]:
    """The path of at most ``steps`` steps from ``start`` to ``end`` whose every step goes to a node
    closer to ``end``, minimising the sum over its steps of ``D[u, v] ** power`` plus
    ``evenness * |fall - to_end[start] / steps| ** power`` (``fall``: how much nearer the end the
    step comes), which favours a distance to the end that falls evenly.

    Parameters
    ----------
    D : np.ndarray, shape (c, c)
        Distances between the candidates.
    to_end : np.ndarray, shape (c,)
        Each candidate's distance to ``end``.
    start, end : int
        Node indices into ``D``.
    steps : int
        Wanted number of steps; fewer when no path of that many exists (too few nodes between).
    edges : np.ndarray, shape (c, c), bool, optional
        Allowed steps (e.g. a k-nearest-neighbour graph); all by default.

    Returns
    -------
    list of int
        Node indices, ``start`` first and ``end`` last; ``[start]`` when no path exists.
    """
    c = D.shape[0]
    W = np.power(D, power)
    if evenness:
        fall = to_end[:, None] - to_end[None, :]
        W = W + evenness * np.power(np.abs(fall - to_end[start] / steps), power)
    W = W.astype(np.float32)
    allowed = to_end[None, :] < to_end[:, None]  # u -> v only towards the end: a DAG, no repeats
    if edges is not None:
        allowed &= edges
    W[~allowed] = np.inf
    cost = np.full(c, np.inf, np.float32)
    cost[start] = 0.0
    back = np.empty((steps, c), np.int32)
    at_end = np.full(steps, np.inf)
    cols = np.arange(c)
    for s in range(steps):
        total = cost[:, None] + W
        back[s] = np.argmin(total, axis=0)
        cost = total[back[s], cols]
        at_end[s] = cost[end]
    feasible = np.flatnonzero(np.isfinite(at_end))
    if feasible.size == 0:
        return [start]
    length = int(feasible[-1]) + 1
    path = [end]
    for s in range(length - 1, -1, -1):
        path.append(int(back[s][path[-1]]))
    return path[::-1]


def journey(
    index: SearchIndex,
    start: int,
    end: int,
    steps: int,
    *,
    metric: str = "cosine",
    power: float = STEP_POWER,
    evenness: float = 0.0,
    knn: int | None = None,
) -> Playlist:
    """A journey of ``steps`` steps from song row ``start`` to song row ``end``.

    Parameters
    ----------
    index : SearchIndex
        The library's embeddings under the chosen scaler.
    start, end : int
        Rows of the index; must differ.
    steps : int
        Steps wanted (``steps + 1`` songs); fewer when too few songs lie between the two.
    metric : str
        One of :data:`trainer.search.DISTANCES`.
    power : float
        Penalty on long steps (see :func:`monotone_path`).
    knn : int, optional
        Limit steps to a k-nearest-neighbour graph of the candidates (measured, not the default).

    Returns
    -------
    Playlist
        ``rows[0] == start``, ``rows[-1] == end``, no row twice, ``to_end`` strictly falling.
    """
    check_metric(metric)
    start, end = _check_row(index, start, "start"), _check_row(index, end, "end")
    if start == end:
        raise ParameterError("a journey needs two different songs")
    if steps < 1:
        raise ParameterError(f"a journey needs at least 1 step, got {steps}")
    if steps + 1 > index.n:
        raise ParameterError(f"a journey of {steps} steps needs {steps + 1} songs; the library has {index.n}")
    pool = journey_pool(index, start, end, metric)
    X = index.scaled[pool]
    to_end = pairwise_distances(X, index.scaled[[end]], metric, variances=index.variances)[:, 0]
    s_at, e_at = int(np.searchsorted(pool, start)), int(np.searchsorted(pool, end))
    to_end[e_at] = 0.0
    if to_end[s_at] <= SAME_SONG:
        rows = np.array([start, end], dtype=np.int64)
        return Playlist(
            rows,
            step_distances(index, rows, metric),
            "journey",
            np.zeros(2),
            "the two songs sound the same to this model: nothing lies between them",
        )
    between = np.flatnonzero(to_end < to_end[s_at])
    keep = np.concatenate([[s_at, e_at], between[between != e_at]])  # the two ends first
    D = pairwise_distances(X[keep], X[keep], metric, variances=index.variances)
    unique = ~np.triu(D <= SAME_SONG, 1).any(axis=0)  # one of each set of identical songs, ends first
    keep, D = keep[unique], D[np.ix_(unique, unique)]
    edges = _knn_edges(D, knn) if knn else None
    path = monotone_path(D, to_end[keep], 0, 1, steps, power=power, evenness=evenness, edges=edges)
    rows = pool[keep[path]]
    note = ""
    if len(rows) - 1 < steps:
        note = (
            f"{len(rows) - 1} steps instead of {steps}: too few songs lie between these two, "
            "each closer to the end than the one before"
        )
    return Playlist(rows, step_distances(index, rows, metric), "journey", to_end[keep[path]], note)


# -- radio ---------------------------------------------------------------------------------------
def _differs(labels: np.ndarray | None, rows: np.ndarray, ref: int) -> np.ndarray:
    """Whether each row's label differs from row ``ref``'s; an unknown ("") label differs from all."""
    if labels is None or not labels[ref]:
        return np.ones(rows.size, dtype=bool)
    return labels[rows] != labels[ref]


def radio_next(
    index: SearchIndex,
    recent: Sequence[int],
    played: Iterable[int] = (),
    *,
    metric: str = "cosine",
    albums: np.ndarray | None = None,
    artists: np.ndarray | None = None,
    weights: Sequence[float] = RADIO_WEIGHTS,
) -> int | None:
    """The next radio song after ``recent`` (oldest first), or ``None`` when every song was played.

    Parameters
    ----------
    recent : sequence of int
        The rows played last, the newest last; the last ``len(weights)`` count.
    played : iterable of int
        Rows never to pick again (besides ``recent``), nor songs at distance 0 from them.
    albums, artists : np.ndarray, shape (n,), of str, optional
        Each row's album and artist (``""`` if unknown): the next song avoids the last song's album
        and artist while a candidate of another exists, then the album only, then neither.
    weights : sequence of float
        Weight of the newest, second-newest, ... song in the candidates' mean distance.
    """
    check_metric(metric)
    recent = [_check_row(index, r, "recent") for r in list(recent)[-len(weights) :]]
    if not recent:
        raise ParameterError("radio needs at least one song to go on from")
    excluded = np.union1d(np.asarray(list(played), dtype=np.int64), recent)
    remaining = index.n - excluded.size
    if remaining <= 0:
        return None
    w = np.asarray(weights[: len(recent)], dtype=np.float64)[::-1]  # aligned with recent, oldest first
    Q = index.scaled[recent]
    last = recent[-1]
    k = RADIO_CANDIDATES
    while True:
        idx, _ = index.query_scaled(Q, min(k, remaining), metric, exclude_ids=excluded)
        cand = np.unique(idx[idx >= 0])
        looked_at_all = k >= min(remaining, RADIO_MAX_CANDIDATES)
        if cand.size == 0:
            if looked_at_all:
                return None
            k *= 4
            continue
        D = pairwise_distances(index.scaled[cand], Q, metric, variances=index.variances)
        # the same audio as a song played already (one file twice in the library) counts as played
        same = (
            pairwise_distances(index.scaled[cand], index.scaled[excluded], metric, variances=index.variances)
            <= SAME_SONG
        ).any(axis=1)
        if same.all() and not looked_at_all:
            k *= 4
            continue
        cand, score = cand[~same], D[~same] @ w
        if cand.size == 0:
            return None
        other_album = _differs(albums, cand, last)
        for ok in (other_album & _differs(artists, cand, last), other_album, np.ones(cand.size, dtype=bool)):
            if ok.any():
                best = np.lexsort((cand[ok], score[ok]))[0]  # ties: the lower row
                return int(cand[ok][best])
            if not looked_at_all:
                break  # look further before accepting the same album or artist
        k *= 4


def radio(
    index: SearchIndex,
    seed: int,
    count: int,
    *,
    metric: str = "cosine",
    albums: np.ndarray | None = None,
    artists: np.ndarray | None = None,
) -> Playlist:
    """``count`` songs of radio from row ``seed`` (the seed first); fewer if the library runs out."""
    seed = _check_row(index, seed, "seed")
    if count < 1:
        raise ParameterError(f"radio needs a count of at least 1, got {count}")
    if count > index.n:
        raise ParameterError(f"radio of {count} songs needs {count} songs; the library has {index.n}")
    rows = [seed]
    while len(rows) < count:
        nxt = radio_next(index, rows, rows, metric=metric, albums=albums, artists=artists)
        if nxt is None:
            break
        rows.append(nxt)
    arr = np.asarray(rows, dtype=np.int64)
    return Playlist(arr, step_distances(index, arr, metric), "radio")


# -- quality -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlaylistStats:
    """How a playlist moves: step sizes, how it nears its end, how often albums repeat."""

    mean_step: float
    longest_step: float
    closer_share: float  #: share of steps that end closer to the last song than they started
    largest_fall: float  #: the biggest single fall in distance to the last song, as a share of the whole
    same_album_share: float  #: share of consecutive pairs from the same album (NaN without albums)


def playlist_stats(
    index: SearchIndex, rows: Sequence[int] | np.ndarray, metric: str, albums: np.ndarray | None = None
) -> PlaylistStats:
    """Figures of ``rows (n,)``, n >= 2, measured towards its last song."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size < 2:
        raise ParameterError("a playlist needs at least two songs to be measured")
    steps = step_distances(index, rows, metric)
    to_end = distances_to(index, rows, int(rows[-1]), metric)
    fall = to_end[:-1] - to_end[1:]
    whole = to_end[0] if to_end[0] > 0 else 1.0
    same = float(np.mean(albums[rows[:-1]] == albums[rows[1:]])) if albums is not None else float("nan")
    return PlaylistStats(
        float(steps.mean()), float(steps.max()), float(np.mean(fall > 0)), float(fall.max() / whole), same
    )


# -- songs and files -----------------------------------------------------------------------------
#: Which album and artist a song is, as keys (the tag, else its folders): written once, in trainer.labels.
song_album = tag_or_folder_album
song_artist = tag_or_folder_artist


def song_labels(songs: Sequence) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """``(albums (n,), artists (n,))`` of ``songs`` for :func:`radio`."""
    return (
        np.array([song_album(s) for s in songs], dtype=object),
        np.array([song_artist(s) for s in songs], dtype=object),
    )


def write_m3u(path: str | os.PathLike[str], entries: Iterable[tuple[Path, float | None, str]]) -> None:
    """Extended M3U: ``entries`` are ``(file, seconds or None, "Artist - Title")`` in play order.

    UTF-8; a file name that is not valid UTF-8 keeps its bytes, so players find it.
    """
    from .safetext import m3u_location, one_line  # a tag cannot add lines; a newline in a name: file:// URI

    lines = ["#EXTM3U"]
    for file, seconds, label in entries:
        lines.append(f"#EXTINF:{int(round(seconds)) if seconds else -1},{one_line(label)}")
        lines.append(m3u_location(file))
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
