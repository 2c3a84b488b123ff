"""Journeys and radio (trainer.playlists): the properties a listener relies on, on small libraries."""

import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer import playlists as pl
from trainer.distances import DISTANCES, pairwise_distances
from trainer.errors import ParameterError
from trainer.search import SearchIndex, faiss_available


def clustered(rng, n_albums=6, per_album=20, d=16, spread=0.25):
    centres = rng.standard_normal((n_albums, d)) * 2
    X = np.repeat(centres, per_album, axis=0) + spread * rng.standard_normal((n_albums * per_album, d))
    albums = np.repeat([f"album {i}" for i in range(n_albums)], per_album).astype(object)
    return X.astype(np.float32), albums


def assert_journey(index, j, start, end, metric):
    rows = j.rows.tolist()
    assert rows[0] == start and rows[-1] == end
    assert len(set(rows)) == len(rows), "a song twice"
    to_end = pairwise_distances(index.scaled[rows], index.scaled[[end]], metric, variances=index.variances)[
        :, 0
    ]
    to_end[-1] = 0.0  # kulsinski's distance from a song to itself need not be 0; the end is the end
    if "sound the same" in j.note:  # nothing lies between the two (kulsinski: any two dense vectors)
        assert rows == [start, end] and to_end[0] == pytest.approx(0.0, abs=1e-9)
        return
    assert np.all(np.diff(to_end) < 0), f"not closer to the end at every step: {to_end}"
    assert np.allclose(j.to_end, to_end, atol=1e-9)
    assert j.steps.shape == (len(rows) - 1,)
    assert np.allclose(
        j.steps,
        [
            pairwise_distances(index.scaled[[a]], index.scaled[[b]], metric, variances=index.variances)[0, 0]
            for a, b in itertools.pairwise(rows)
        ],
    )


# -- journeys --------------------------------------------------------------------------------------
def test_journey_on_a_line_takes_every_song_in_order():
    X = np.array([[0.0], [3.0], [1.0], [10.0], [2.0], [4.0], [5.0]])  # rows out of order on purpose
    index = SearchIndex(X, "StandardScaler")
    j = pl.journey(index, 0, 6, 5, metric="euclidean")
    assert j.rows.tolist() == [0, 2, 4, 1, 5, 6]  # 0, 1, 2, 3, 4, 5: 10 lies beyond the end
    assert j.note == ""
    one = pl.journey(index, 0, 6, 1, metric="euclidean")
    assert one.rows.tolist() == [0, 6]


def test_journey_prefers_even_steps_to_one_long_one():
    # on the unit circle from 0° to 90° in 2 steps: the song at 45° beats the one at 10°
    angles = np.radians([0.0, 90.0, 10.0, 45.0])
    index = SearchIndex(np.c_[np.cos(angles), np.sin(angles)], "Normalizer")
    assert pl.journey(index, 0, 1, 2, metric="euclidean").rows.tolist() == [0, 3, 1]
    # by the sum of the steps alone (power 1) the short step and the long one cost less (1.46 < 1.53)
    assert pl.journey(index, 0, 1, 2, metric="euclidean", power=1.0).rows.tolist() == [0, 2, 1]


@pytest.mark.parametrize("metric", DISTANCES)
@pytest.mark.parametrize("scaler", ["Normalizer", "StandardScaler", "MinMaxScaler"])
def test_journey_properties_every_distance_and_scaler(rng, metric, scaler):
    X, _ = clustered(rng)
    index = SearchIndex(X, scaler)
    for start, end in [(0, 119), (25, 70), (100, 3)]:
        j = pl.journey(index, start, end, 8, metric=metric)
        assert_journey(index, j, start, end, metric)
        assert len(j) == 9 or j.note


def test_journey_steps_are_short_compared_with_random_orders(rng):
    X, _ = clustered(rng, n_albums=10, per_album=30, d=24)
    index = SearchIndex(X, "Normalizer")
    j = pl.journey(index, 5, 290, 12)
    assert len(j) == 13
    shuffled = [
        pl.step_distances(index, np.r_[j.rows[0], rng.permutation(j.rows[1:-1]), j.rows[-1]], "cosine")
        for _ in range(50)
    ]
    assert j.mean_step < np.mean([s.mean() for s in shuffled])
    assert j.longest_step < np.mean([s.max() for s in shuffled])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 5), power=st.sampled_from([1.0, 2.0]))
def test_monotone_path_is_the_cheapest_path_of_that_length(seed, steps, power):
    r = np.random.default_rng(seed)
    P = r.standard_normal((7, 3))
    D = pairwise_distances(P, P, "euclidean")
    to_end = D[:, 1]
    path = pl.monotone_path(D, to_end, 0, 1, steps, power=power)
    middle = [i for i in range(2, 7) if to_end[i] < to_end[0]]
    best, best_len = np.inf, 0
    for length in range(1, steps + 1):  # brute force: every ordered choice of length - 1 songs between
        for mid in itertools.permutations(middle, length - 1):
            p = [0, *mid, 1]
            if all(to_end[a] > to_end[b] for a, b in itertools.pairwise(p)):
                cost = sum(D[a, b] ** power for a, b in itertools.pairwise(p))
                if length > best_len or cost < best - 1e-9:
                    best, best_len = (cost, length) if length > best_len else (min(best, cost), length)
    assert len(path) - 1 == best_len  # as many steps as asked for where possible, else the most possible
    cost = sum(D[a, b] ** power for a, b in itertools.pairwise(path))
    assert cost == pytest.approx(best, rel=1e-5)


def test_journey_is_shorter_with_a_note_when_too_few_songs_lie_between(rng):
    X, _ = clustered(rng, n_albums=2, per_album=10)
    index = SearchIndex(X, "Normalizer")
    D = pairwise_distances(index.scaled, index.scaled[[1]], "cosine")[:, 0]
    start = int(np.argsort(D)[3])  # only two songs are closer to row 1 than this one
    j = pl.journey(index, start, 1, 10)
    assert_journey(index, j, start, 1, "cosine")
    assert len(j) == 4 and "3 steps instead of 10" in j.note


def test_journey_bad_input():
    index = SearchIndex(np.eye(5), "Normalizer")
    with pytest.raises(ParameterError, match="two different songs"):
        pl.journey(index, 2, 2, 3)
    with pytest.raises(ParameterError, match="at least 1 step"):
        pl.journey(index, 0, 1, 0)
    with pytest.raises(ParameterError, match="needs 6 songs; the library has 5"):
        pl.journey(index, 0, 1, 5)
    with pytest.raises(ParameterError, match="row of the library"):
        pl.journey(index, 0, 9, 2)


def test_identical_songs_are_one_song_on_a_journey():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5], [0.7, 0.3], [0.3, 0.7]])
    index = SearchIndex(X, "Normalizer")
    j = pl.journey(index, 0, 1, 4)
    assert_journey(index, j, 0, 1, "cosine")
    assert not {2, 3} <= set(j.rows.tolist())
    same = SearchIndex(np.array([[1.0, 1.0], [2.0, 2.0], [0.0, 1.0]]), "Normalizer")
    j = pl.journey(same, 0, 1, 2)  # 0 and 1 point the same way: nothing between them
    assert j.rows.tolist() == [0, 1] and "sound the same" in j.note


def test_journey_in_a_big_library_uses_songs_near_the_line(rng, monkeypatch):
    """Above POOL_ALL songs only the nearest songs to points on the A-B line are candidates; the
    journey keeps its properties and stays close to the best over every song."""
    X, _ = clustered(rng, n_albums=20, per_album=40, d=16)
    index = SearchIndex(X, "Normalizer")
    full = pl.journey(index, 3, 790, 10)
    monkeypatch.setattr(pl, "POOL_ALL", 100)
    monkeypatch.setattr(pl, "POOL_SIZE", 300)
    pool = pl.journey_pool(index, 3, 790, "cosine")
    assert 3 in pool and 790 in pool and len(pool) < 400
    near = pl.journey(index, 3, 790, 10)
    assert_journey(index, near, 3, 790, "cosine")
    assert len(near) == 11
    assert np.sum(near.steps**2) <= 1.5 * np.sum(full.steps**2)


@pytest.mark.skipif(not faiss_available(), reason="faiss-cpu not installed")
def test_journey_and_radio_on_the_approximate_index(rng, monkeypatch):
    X, albums = clustered(rng, n_albums=20, per_album=40, d=16)
    index = SearchIndex(X, "Normalizer", ann="always")
    assert index.backend_for("cosine") == "ann"
    monkeypatch.setattr(pl, "POOL_ALL", 100)
    j = pl.journey(index, 10, 700, 10)
    assert_journey(index, j, 10, 700, "cosine")
    r = pl.radio(index, 10, 15, albums=albums)
    assert len(set(r.rows.tolist())) == 15


# -- radio -----------------------------------------------------------------------------------------
def test_radio_next_is_the_nearest_unplayed_song(rng):
    X, _ = clustered(rng)
    index = SearchIndex(X, "Normalizer")
    D = pairwise_distances(index.scaled[[7]], index.scaled, "cosine")[0]
    order = [int(i) for i in np.argsort(D) if i != 7]
    assert pl.radio_next(index, [7]) == order[0]
    assert pl.radio_next(index, [7], played=order[:3]) == order[3]


def test_radio_weighs_the_last_song_most(rng):
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 1.0], [1.0, 0.25], [0.7, 0.7]])
    index = SearchIndex(X, "Normalizer")
    assert pl.radio_next(index, [0, 1], metric="euclidean") == 3  # nearest the last song (1)
    assert pl.radio_next(index, [1, 0], metric="euclidean") == 2


def test_radio_avoids_the_same_album_back_to_back_where_it_can(rng):
    X, albums = clustered(rng, n_albums=3, per_album=8)
    index = SearchIndex(X, "Normalizer")
    r = pl.radio(index, 0, 16, albums=albums)
    rows = r.rows.tolist()
    assert rows[0] == 0 and len(rows) == 16 and len(set(rows)) == 16
    same = [albums[a] == albums[b] for a, b in itertools.pairwise(rows)]
    assert not any(same), f"back-to-back album repeats: {[albums[i] for i in rows]}"
    plain = pl.radio(index, 0, 16).rows  # without the rule the nearest songs are the album's own
    assert sum(albums[a] == albums[b] for a, b in itertools.pairwise(plain)) > 8


def test_radio_repeats_an_album_only_when_nothing_else_is_left():
    rng = np.random.default_rng(0)
    X, albums = clustered(rng, n_albums=2, per_album=6)
    albums[6:] = "small"
    albums[8:] = "big"  # "small" has 2 songs, "big" 10: a repeat of "big" is unavoidable
    albums[:6] = "big"
    index = SearchIndex(X, "Normalizer")
    rows = pl.radio(index, 0, 12, albums=albums).rows.tolist()
    assert len(set(rows)) == 12
    repeats = sum(albums[a] == albums[b] for a, b in itertools.pairwise(rows))
    assert repeats == 11 - 2 * 2  # each "small" song breaks a run of "big" ones: 4 changes in all


def test_radio_avoids_the_artist_too_then_only_the_album():
    X = np.array([[1.0, 0.0], [0.99, 0.05], [0.98, 0.1], [0.0, 1.0]])
    albums = np.array(["a1", "a2", "a3", "b1"], dtype=object)
    index = SearchIndex(X, "Normalizer")
    same_artist = np.array(["x", "x", "x", "y"], dtype=object)
    assert pl.radio_next(index, [0], albums=albums, artists=same_artist) == 3
    assert pl.radio_next(index, [0], albums=albums, artists=None) == 1
    unknown = np.array(["", "", "", ""], dtype=object)  # unknown artists never count as the same
    assert pl.radio_next(index, [0], albums=albums, artists=unknown) == 1


def test_radio_skips_a_second_copy_of_a_played_song_and_stops_when_all_are_played():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.9, 0.2], [0.0, 1.0]])
    index = SearchIndex(X, "Normalizer")
    r = pl.radio(index, 0, 4)
    assert 1 not in r.rows.tolist()[:3]
    assert pl.radio_next(index, [0, 1, 2, 3]) is None
    with pytest.raises(ParameterError, match="the library has 4"):
        pl.radio(index, 0, 5)
    with pytest.raises(ParameterError, match="at least 1"):
        pl.radio(index, 0, 0)


# -- figures, labels and files --------------------------------------------------------------------
def test_playlist_stats():
    X = np.array([[0.0], [1.0], [3.0], [6.0]])
    index = SearchIndex(X, "StandardScaler")
    scale = index.scaled[1, 0] - index.scaled[0, 0]
    stats = pl.playlist_stats(
        index, [0, 1, 2, 3], "euclidean", albums=np.array(["a", "a", "b", "b"], dtype=object)
    )
    assert stats.mean_step == pytest.approx(2 * scale)
    assert stats.longest_step == pytest.approx(3 * scale)
    assert stats.closer_share == 1.0 and stats.largest_fall == pytest.approx(0.5)
    assert stats.same_album_share == pytest.approx(2 / 3)


class _Song:
    def __init__(self, path, root, album=None, artist=None):
        self.path, self.root, self.album, self.artist = path, root, album, artist


def test_song_labels_fall_back_to_folders(tmp_path):
    songs = [
        _Song(tmp_path / "game" / "music" / "a.ogg", tmp_path),
        _Song(tmp_path / "other" / "music" / "b.ogg", tmp_path, album="Tagged", artist="Someone"),
        _Song(tmp_path / "c.ogg", tmp_path),
    ]
    albums, artists = pl.song_labels(songs)
    assert albums.tolist() == ["game/music", "Tagged", ""]  # not "music": every game has one
    assert artists.tolist() == ["game", "Someone", ""]


def test_write_m3u_keeps_undecodable_names(tmp_path):
    odd = tmp_path / os.fsdecode(b"caf\xe9.ogg")
    out = tmp_path / "list.m3u"
    pl.write_m3u(out, [(odd, 61.6, "A - B"), (tmp_path / "x.wav", None, "Unknown - x")])
    data = out.read_bytes()
    assert data.startswith(b"#EXTM3U\n#EXTINF:62,A - B\n")
    assert os.fsencode(odd) in data and b"#EXTINF:-1,Unknown - x\n" in data
