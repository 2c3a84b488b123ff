"""Songs that are one recording: copies, re-encodes, the same take under two names.

Two files of one recording embed almost alike -- an MP3 at 128 kbit/s of an Ogg track lies at a
cosine distance of 0.001-0.005 from it under the default model, and a remaster of the same take
(warmux's *Apnee* and *Apnee2*, waveforms correlated 0.96) at 0.005 -- while different songs
rarely come that close: over the 583 songs of 59 unseen albums the distance from a song to its
nearest other song has a 1st percentile of 0.015 and a median of 0.198 (session 11, README
"Duplicates").  So a pair counts as one recording when it is closer than a small share of the
library's own median nearest-song distance, which carries the threshold over to models whose
distances run on other scales, and when the two last as long as each other.

Torch- and Qt-free and vectorised: rows are compared in chunks of one matrix product each, so a
library of 100,000 songs takes a minute and bounded memory, with progress and cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .jobs import ProgressFn, StopFn, check_stop, report

#: A pair closer than this share of the library's median nearest-song distance is one recording.
#: 0.04 of the 0.198 above is 0.0079: above every re-encode measured, below the nearest pair of
#: different songs seen (0.0096, two seahorse-adventures tunes of equal length).
RELATIVE_DISTANCE = 0.04
#: Two files of one recording last as long as each other, within this share of the longer ...
LENGTH_TOLERANCE = 0.03
#: ... or within this many seconds, for short songs and decoders that pad.
LENGTH_SLACK_S = 1.0
#: Pairs closer than this are gathered in the one pass over the library, before its median is
#: known; a library whose threshold comes out higher (a median nearest-song distance above 1.25,
#: never seen) gets a second pass at that threshold.
FIRST_PASS_DISTANCE = 0.05
#: Entries of one chunk's similarity block (rows x library): 32 M float32 values, 128 MB.
CHUNK_ENTRIES = 1 << 25


@dataclass(frozen=True)
class Duplicates:
    """What :func:`find_duplicates` found, with the numbers that decided it."""

    #: the matrix rows (ascending) of each recording found more than once; closest group first
    groups: list[list[int]]
    #: the closest distance within each group (same order as ``groups``)
    closest: list[float]
    #: the cosine distance under which a pair counted as one recording
    max_distance: float
    #: the library's median distance from a song to its nearest other song
    typical_distance: float


def close_pairs(
    matrix: np.ndarray,
    max_distance: float,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each song's cosine distance to its nearest other song ``(n,)``, and every pair closer than
    ``max_distance`` as ``(rows a, rows b, distances)`` with ``a < b``, in chunks of one matrix
    product each.  A zero vector is at distance 1 from everything."""
    X = np.asarray(matrix, dtype=np.float32)
    n = len(X)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    Xn = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    nearest = np.ones(n, np.float32)
    found_a: list[np.ndarray] = []
    found_b: list[np.ndarray] = []
    found_d: list[np.ndarray] = []
    step = max(1, CHUNK_ENTRIES // max(n, 1))
    for a in range(0, n, step):
        check_stop(should_stop)
        b = min(n, a + step)
        sims = Xn[a:b] @ Xn.T
        sims[np.arange(b - a), np.arange(a, b)] = -np.inf  # not its own neighbour
        nearest[a:b] = 1.0 - sims.max(axis=1)
        r, c = np.nonzero(sims > 1.0 - max_distance)
        once = r + a < c  # each pair once, from its lower row
        found_a.append(r[once] + a)
        found_b.append(c[once])
        found_d.append(1.0 - sims[r[once], c[once]])
        report(progress, b, n, f"compared {b:,} of {n:,} songs")
    pairs = (
        np.concatenate(found_a).astype(np.int64),
        np.concatenate(found_b).astype(np.int64),
        np.maximum(np.concatenate(found_d), 0.0),
    )
    return np.maximum(nearest, 0.0), pairs


def find_duplicates(
    matrix: np.ndarray,
    lengths_s: np.ndarray | None = None,
    *,
    max_distance: float | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Duplicates:
    """Groups of rows of ``matrix (n, d)`` that are one recording: linked by pairs closer than
    ``max_distance`` (default: ``RELATIVE_DISTANCE`` of the median nearest-song distance) whose
    lengths (``lengths_s (n,)`` seconds, NaN where unknown: not checked) agree."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(matrix)
    if n < 2:
        return Duplicates([], [], float(max_distance or 0.0), float("nan"))
    cap = float(max_distance) if max_distance is not None else FIRST_PASS_DISTANCE
    nearest, (a, b, d) = close_pairs(matrix, cap, progress=progress, should_stop=should_stop)
    typical = float(np.median(nearest))
    limit = float(max_distance) if max_distance is not None else RELATIVE_DISTANCE * typical
    if limit > cap:  # (see FIRST_PASS_DISTANCE)
        _, (a, b, d) = close_pairs(matrix, limit, progress=progress, should_stop=should_stop)
    keep = d < limit
    if lengths_s is not None:
        la, lb = np.asarray(lengths_s, float)[a], np.asarray(lengths_s, float)[b]
        gap_ok = np.abs(la - lb) <= np.maximum(LENGTH_SLACK_S, LENGTH_TOLERANCE * np.fmax(la, lb))
        keep &= gap_ok | np.isnan(la) | np.isnan(lb)
    a, b, d = a[keep], b[keep], d[keep]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    sizes = np.bincount(label)
    closest = np.full(len(sizes), np.inf)
    np.minimum.at(closest, label[a], d)
    groups = [np.flatnonzero(label == g).tolist() for g in np.flatnonzero(sizes > 1)]
    groups.sort(key=lambda g: closest[label[g[0]]])
    return Duplicates(groups, [float(closest[label[g[0]]]) for g in groups], limit, typical)
