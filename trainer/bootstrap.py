"""95 % bootstrap intervals of a benchmark's figures, resampling songs or whole albums.

Each row of draws resamples the songs (or the albums) with replacement; a figure's replicates
are its value under each row, and the central 95 % of them its interval.  The same seed gives
every model of one benchmark the same rows, so differences between models are paired.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Song-level bootstrap draws behind the benchmark's 95 % intervals.
BOOTSTRAP_DRAWS = 2000
#: Draw counts held at once (draws x songs): about 32 MB, whatever the library's size.
_DRAW_CELLS = 4_000_000


def song_draws(n_songs: int, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Iterator[np.ndarray]:
    """Chunks of ``(k, n_songs)`` counts, ``draws`` rows in all: each row resamples the songs with
    replacement.  The same seed gives the same rows, so every model of one benchmark is scored on
    the same resamplings and their differences are paired."""
    per_chunk = max(1, _DRAW_CELLS // max(n_songs, 1))
    uniform = np.full(n_songs, 1.0 / n_songs)
    for chunk, start in enumerate(range(0, draws, per_chunk)):
        rng = np.random.default_rng([seed, chunk])
        yield rng.multinomial(n_songs, uniform, size=min(per_chunk, draws - start))


def album_draws(labels: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Iterator[np.ndarray]:
    """Like :func:`song_draws`, but each row resamples whole albums (``labels``) with replacement
    and a song counts as often as its album was drawn.

    Songs of one album are alike, so resampling songs treats 13 tracks of one soundtrack as 13
    independent witnesses; resampling albums asks whether a result would hold for other albums.
    With few albums many rows lose an album's contrasts, hence ``MIN_ALBUMS_TO_RESAMPLE``.
    """
    names, album = np.unique(np.asarray(labels), return_inverse=True)
    if len(names) == 0:
        return
    rows = max(1, _DRAW_CELLS // len(album))
    for counts in song_draws(len(names), draws, seed):
        for start in range(0, len(counts), rows):
            yield counts[start : start + rows][:, album]


def replicates_of(
    counts: np.ndarray, idx: np.ndarray, correct: np.ndarray, queries: np.ndarray, hits: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Odd-one-out accuracy and P@1 (percent) under each row of song ``counts``.

    Why songs, not triplets: the triplets share songs, so resampling triplets would pretend a few
    dozen songs were thousands of independent trials.  A triplet counts as often as the product
    of its three songs' draws, a query as often as it was drawn.  Songs of one album are alike, so
    song-level intervals err on the narrow side (:func:`album_draws` resamples albums instead).
    A row that draws no triplet (or no query) at all gives NaN, which :func:`interval95` skips.
    """
    accuracy = np.empty(len(counts))
    for start in range(0, len(counts), 100):  # (100, triplets) at a time: bounded memory
        c = counts[start : start + 100]
        weight = c[:, idx[:, 0]] * c[:, idx[:, 1]] * c[:, idx[:, 2]]
        accuracy[start : start + 100] = _weighted_percent(weight, correct)
    return accuracy, _weighted_percent(counts[:, queries], hits)


def _weighted_percent(weight: np.ndarray, flags: np.ndarray) -> np.ndarray:
    total = weight.sum(axis=1)
    share = (weight @ flags.astype(float)) / np.maximum(total, 1)
    return np.where(total > 0, 100.0 * share, np.nan)


def bootstrap_replicates(
    n_songs: int,
    idx: np.ndarray,
    correct: np.ndarray,
    queries: np.ndarray,
    hits: np.ndarray,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
    albums: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``draws`` bootstrap replicates of odd-one-out accuracy and P@1 (percent): songs resampled,
    or whole albums when ``albums`` (one label per song) is given."""
    rows = song_draws(n_songs, draws, seed) if albums is None else album_draws(albums, draws, seed)
    parts = [replicates_of(c, idx, correct, queries, hits) for c in rows]
    return np.concatenate([a for a, _ in parts]), np.concatenate([p for _, p in parts])


#: Fewer albums than this and album resampling says little: many rows lose the albums a triplet
#: needs (4 albums drawn with replacement are only 1 or 2 distinct ones in a third of the rows).
MIN_ALBUMS_TO_RESAMPLE = 8


def interval95(replicates: np.ndarray) -> tuple[float, float]:
    """The central 95 % of the replicates that drew anything (NaN rows skipped)."""
    if not np.isfinite(replicates).any():
        return float("nan"), float("nan")
    low, high = np.nanpercentile(replicates, [2.5, 97.5])
    return float(low), float(high)
