"""Which three songs to ask a listener about (pure numpy; the ranking comes from the engine)."""

from __future__ import annotations

import numpy as np


def choose_trio(
    rank: np.ndarray, dist: np.ndarray, anchor: int, labels: np.ndarray | None = None, *, window: int = 20
) -> tuple[int, int, int] | None:
    """An informative triplet around ``anchor``: its nearest neighbour and a boundary song.

    Parameters
    ----------
    rank : np.ndarray, shape (m,)
        Rows of the other songs ordered by distance to ``anchor`` (nearest first, anchor excluded).
    dist : np.ndarray, shape (m,)
        Their distances, ascending.
    anchor : int
        The query row.
    labels : np.ndarray, shape (n,), optional
        Album (or other) label per row.  When given, the third song is the one among the
        nearest ``window`` whose label differs from the anchor's and whose distance is closest
        to the nearest neighbour's: where the model and the folders disagree, a listener's
        answer teaches the most.

    Returns
    -------
    (anchor, nearest, boundary) rows, or None when fewer than three songs exist.
    """
    if len(rank) < 2:
        return None
    nearest = int(rank[0])
    cand = np.arange(1, min(len(rank), window))
    if labels is not None:
        other = cand[labels[rank[cand]] != labels[anchor]]
        if len(other):
            cand = other
    gap = np.abs(dist[cand] - dist[0])
    boundary = int(rank[cand[int(np.argmin(gap))]])
    return anchor, nearest, boundary
