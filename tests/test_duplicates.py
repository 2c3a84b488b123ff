"""Songs that are one recording (``trainer.duplicates``, ``musicsim duplicates``): copies and lossy
re-encodes are found, different songs and different lengths are not, on vectors built to the
purpose and on real audio through the command line."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from synth import write
from test_cli import musicsim
from trainer import duplicates
from trainer.duplicates import find_duplicates
from trainer.errors import Cancelled


def library_with_copies(rng):
    """300 different songs; rows 300-302 are copies of row 5, row 303 a copy of row 7 that lasts
    twice as long (another edit, not the same recording)."""
    X = rng.standard_normal((304, 32)).astype(np.float32)
    X[300:303] = X[5] + 1e-3 * rng.standard_normal((3, 32))
    X[303] = X[7] + 1e-3 * rng.standard_normal(32)
    lengths = np.full(304, 180.0)
    lengths[7], lengths[303] = 150.0, 300.0
    return X, lengths


def test_copies_are_one_group_and_a_copy_of_another_length_is_not(rng):
    X, lengths = library_with_copies(rng)
    found = find_duplicates(X, lengths)
    assert found.groups == [[5, 300, 301, 302]]
    assert 0 < found.closest[0] < 1e-5
    assert found.max_distance == pytest.approx(duplicates.RELATIVE_DISTANCE * found.typical_distance)
    unknown = lengths.copy()
    unknown[303] = np.nan  # a length the index does not know is not held against a pair
    assert [7, 303] in find_duplicates(X, unknown).groups


def test_the_answer_does_not_depend_on_how_the_rows_are_chunked(rng, monkeypatch):
    X, lengths = library_with_copies(rng)
    whole = find_duplicates(X, lengths)
    monkeypatch.setattr(duplicates, "CHUNK_ENTRIES", 7 * len(X))  # 7 rows a chunk: 44 chunks
    chunked = find_duplicates(X, lengths)
    assert chunked.groups == whole.groups and chunked.typical_distance == pytest.approx(
        whole.typical_distance
    )


def test_a_threshold_above_the_first_pass_cap_gets_a_second_pass(rng, monkeypatch):
    X, lengths = library_with_copies(rng)
    whole = find_duplicates(X, lengths)
    monkeypatch.setattr(duplicates, "FIRST_PASS_DISTANCE", 1e-9)  # below every copy's distance
    again = find_duplicates(X, lengths)
    assert again.groups == whole.groups == [[5, 300, 301, 302]]


def test_a_tighter_threshold_finds_fewer_and_cancel_stops(rng):
    X, lengths = library_with_copies(rng)
    assert find_duplicates(X, lengths, max_distance=1e-8).groups == []
    assert find_duplicates(X[:1]).groups == [] and find_duplicates(X[:0]).groups == []
    with pytest.raises(Cancelled):
        find_duplicates(X, lengths, should_stop=lambda: True)


def test_zero_vectors_are_no_ones_duplicate(rng):
    X = rng.standard_normal((50, 16)).astype(np.float32)
    X[10] = X[11] = 0.0  # a model's output for silence-like input: no direction to compare
    assert find_duplicates(X).groups == []


def test_musicsim_duplicates_finds_a_copy_and_a_lossy_re_encode(tmp_path, synth_library):
    library = tmp_path / "music"
    shutil.copytree(synth_library, library)
    tones = library / "synth" / "tones"
    shutil.copy(tones / "tones-1.wav", tones / "tones-1 (copy).wav")
    y, sr = sf.read(library / "synth" / "noise" / "noise-2.wav", dtype="float32")
    # a lossy re-encode at Vorbis's best quality, as a 320 kbit/s MP3 would be: the synthetic songs
    # are far more alike than real ones, so the library's own threshold is tight here
    again = library / "elsewhere" / "noise-2 again.ogg"
    write(again, y, sr, format="OGG", subtype="VORBIS", compression_level=0.0)
    home = tmp_path / "home"
    musicsim(home, "index", library)

    out = musicsim(home, "duplicates").stdout
    assert out.startswith("2 recordings found more than once among 14 songs (model 'default'")
    groups = re.split(r"\n +\d+\. distance", out)[1:]
    assert "tones-1 (copy).wav" in groups[0] and "tones-1.wav" in groups[0]
    assert "noise-2 again.ogg" in groups[1] and "noise-2.wav" in groups[1]
    assert not any(f"tones-{i}.wav" in out for i in (0, 2, 3))  # an album's other songs are not copies

    tighter = musicsim(home, "duplicates", "--max-distance", "1e-9").stdout
    assert "cosine distance under 0.0000;" in tighter
    assert "noise-2 again.ogg" not in tighter  # the re-encode is not that close
    bad = musicsim(home, "duplicates", "--max-distance", "2.5", check=False)
    assert bad.returncode == 2 and "--max-distance must lie between 0 and 2" in bad.stderr
