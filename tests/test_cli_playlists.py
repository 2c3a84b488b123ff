"""``musicsim path`` and ``musicsim radio`` as a user runs them: real files, exit codes, output."""

import re
from pathlib import Path

import numpy as np
import pytest

from clirun import run_cli

SONG_LINE = re.compile(r"^\s*(\d+)\. (.+?)  \[")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, synth_library):
    home = tmp_path_factory.mktemp("clihome")
    rc, out, err = run_cli(
        "--home", home, "-q", "index", synth_library, "--model", "classic", "--workers", "0"
    )
    assert rc == 0, err
    return home, synth_library


def songs_of(out: str) -> list[str]:
    lines = [SONG_LINE.match(line) for line in out.splitlines()]
    found = [m for m in lines if m]
    assert [int(m.group(1)) for m in found] == list(range(1, len(found) + 1))
    return [m.group(2) for m in found]


def test_path_goes_from_one_song_to_the_other(indexed, tmp_path):
    from trainer.distances import pairwise_distances
    from trainer.search import SearchIndex

    home, lib = indexed
    a, b = lib / "synth" / "tones" / "tones-0.wav", lib / "synth" / "noise" / "noise-3.wav"
    m3u = tmp_path / "journey.m3u"
    rc, out, err = run_cli("--home", home, "path", a, b, "--steps", "4", "--model", "classic", "--m3u", m3u)
    assert rc == 0, err
    songs = songs_of(out)
    assert songs[0] == str(a) and songs[-1] == str(b)
    assert len(songs) == len(set(songs)) and 2 <= len(songs) <= 5
    assert len(songs) == 5 or "instead of 4" in err
    # each song closer to TO than the one before, under the model's embeddings as indexed
    np_path = tmp_path / "e.npz"
    assert run_cli("--home", home, "-q", "embed", lib, "--out", np_path, "--model", "classic")[0] == 0
    data = np.load(np_path)
    rel = [str(p) for p in data["paths"]]
    index = SearchIndex(data["embeddings"], "Normalizer")
    rows = [rel.index(Path(s).relative_to(lib).as_posix()) for s in songs]
    to_b = pairwise_distances(index.scaled[rows], index.scaled[[rows[-1]]], "cosine")[:, 0]
    assert np.all(np.diff(to_b) < 0), to_b
    steps = [float(x) for x in re.findall(r"\]  step (\d+\.\d+)", out)]
    assert len(steps) == len(songs) - 1
    listed = m3u.read_text(encoding="utf-8").splitlines()
    assert listed[0] == "#EXTM3U" and [x for x in listed if not x.startswith("#")] == songs
    assert f"wrote {len(songs)} songs to {m3u}" in out


def test_radio_starts_with_the_song_and_never_repeats(indexed, tmp_path):
    home, lib = indexed
    seed = lib / "synth" / "squares" / "squares-1.wav"
    m3u = tmp_path / "radio.m3u"
    rc, out, err = run_cli("--home", home, "radio", seed, "--count", "9", "--model", "classic", "--m3u", m3u)
    assert rc == 0, err
    songs = songs_of(out)
    assert songs[0] == str(seed) and len(songs) == 9 and len(set(songs)) == 9
    albums = [s.split("/")[-2] for s in songs]  # three albums of four: never the same one back to back
    assert all(x != y for x, y in zip(albums, albums[1:], strict=False)), albums
    assert [x for x in m3u.read_text(encoding="utf-8").splitlines() if not x.startswith("#")] == songs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("path", "{a}", "{a}"), "FROM and TO are the same song"),
        (("path", "{a}", "{outside}"), "TO '{outside}' is not in the library"),
        (("path", "{missing}", "{a}"), "FROM '{missing}' is not in the library"),
        (("path", "{a}", "{b}", "--steps", "12"), "--steps 12 needs 13 songs, but 12 are indexed"),
        (("path", "{a}", "{b}", "--steps", "0"), "--steps must be at least 1"),
        (("radio", "{a}", "--count", "13"), "--count 13 is more than the 12 songs indexed"),
        (("radio", "{a}", "--count", "0"), "--count must be at least 1"),
        (("radio", "{a}", "--model", "nope"), "unknown model 'nope'"),
        (("radio", "{a}", "--model", "default"), "no songs are indexed with model 'default'"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(indexed, tmp_path, args, message):
    home, lib = indexed
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes((lib / "synth" / "tones" / "tones-1.wav").read_bytes())
    names = {
        "a": lib / "synth" / "tones" / "tones-0.wav",
        "b": lib / "synth" / "noise" / "noise-0.wav",
        "outside": outside,
        "missing": tmp_path / "nothing.wav",
    }
    if "--model" not in args:
        args = (*args, "--model", "classic")
    rc, out, err = run_cli("--home", home, *[x.format(**names) for x in args])
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("musicsim: error: ")
    assert message.format(**names) in err
