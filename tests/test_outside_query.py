"""A query from outside the library (``trainer.query.embed_outside``): the file is as untrusted as
any in a music folder, decoded and checked the way indexing does, and embedded exactly as the
library's own songs are, so that it ranks among them like one of them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from synth import tone, write
from trainer.errors import MusicSimError
from trainer.library import Library
from trainer.modelstore import classic_model
from trainer.query import OUTSIDE_ID, LibraryVectors, embed_outside, nearest


@pytest.fixture
def indexed(home, synth_library):
    model = classic_model()
    with Library(home) as lib:
        lib.index(synth_library, model, workers=0)
        ids, matrix = lib.embeddings(model.info.key)
        songs = {s.id: s for s in lib.songs_by_ids(ids.tolist())}
    return model, ids, matrix, songs


def test_a_file_outside_the_library_embeds_as_its_twin_inside_and_ranks_beside_it(
    indexed, synth_library, tmp_path
):
    model, ids, matrix, songs = indexed
    twin = synth_library / "synth" / "squares" / "squares-2.wav"
    outside_path = tmp_path / "elsewhere" / "heard on the radio.wav"
    outside_path.parent.mkdir()
    shutil.copy(twin, outside_path)

    outside = embed_outside(model, outside_path, matrix.shape[1])

    assert outside.song.id == OUTSIDE_ID and outside.song.path == outside_path
    assert outside.song.display_title == "heard on the radio"
    assert outside.song.duration_s == pytest.approx(4.0, abs=0.05)
    assert outside.model_key == model.info.key
    row = next(r for r, i in enumerate(ids.tolist()) if songs[i].path.name == twin.name)
    np.testing.assert_allclose(outside.vector, matrix[row], rtol=1e-5, atol=1e-6)
    answer = nearest(LibraryVectors.of_model(ids, matrix, model.info.arch), outside.vector, k=4)
    found = [songs[m.song_id].path.name for m in answer.matches]
    assert found[0] == twin.name  # nothing is left out: its twin is the library song at distance 0
    assert answer.matches[0].distance == pytest.approx(0.0, abs=1e-5)
    assert all(name.startswith("squares-") for name in found), found


def test_its_tags_are_cleaned_as_the_index_stores_them(indexed, tmp_path):
    from mutagen.flac import FLAC

    model, _, matrix, _ = indexed
    path = write(tmp_path / "tagged.flac", tone(330, 3.0, harmonics=2), format="FLAC")
    tags = FLAC(path)
    tags["title"] = "Radio\x1b[31m song\n"
    tags["artist"] = "Someone\u202eEvil"
    tags["album"] = "B-sides"
    tags.save()

    song = embed_outside(model, path, matrix.shape[1]).song

    assert (song.title, song.album) == ("Radio [31m song", "B-sides")
    assert "\x1b" not in song.title and "\u202e" not in (song.artist or "")


@pytest.mark.parametrize(
    "make,says",
    [
        (lambda d: d / "nothing here.ogg", "no file"),
        (lambda d: d, "is not a file"),
        (
            lambda d: _bytes(d / "not audio.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 400),
            "could not be used",
        ),
        (lambda d: write(d / "silence.wav", np.zeros(22050 * 3, np.float32)), "silent"),
        (lambda d: _bytes(d / "empty.wav", b""), "could not be used"),
    ],
    ids=["missing", "a folder", "not audio", "silent", "empty"],
)
def test_a_file_that_cannot_be_a_query_says_why(indexed, tmp_path, make, says):
    model, _, matrix, _ = indexed
    with pytest.raises(MusicSimError, match=says):
        embed_outside(model, make(tmp_path), matrix.shape[1])


def test_a_model_of_another_width_than_the_library_is_refused(indexed, synth_library):
    model, _, matrix, _ = indexed
    with pytest.raises(MusicSimError, match="unusable embedding"):
        embed_outside(model, synth_library / "synth" / "tones" / "tones-0.wav", matrix.shape[1] + 1)


def _bytes(path, data: bytes):
    path.write_bytes(data)
    return path
