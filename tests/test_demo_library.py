"""The demo library that ships in resources/demo: what a new user's first window is built on.

Checks the promises the README makes about it (enough real excerpts from enough albums, small,
credited, tagged) on the files themselves, so a rebuild by make_demo_library.py that drops an
album, loses tags or outgrows the size budget fails here rather than on a user's screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import soundfile as sf
from mutagen.oggvorbis import OggVorbis

from trainer.paths import demo_library_dir

MIN_TRACKS = 30
MIN_ALBUMS = 5
MAX_MB = 15.0
EXCERPT_S = 30.0

DEMO = demo_library_dir()
TRACKS = sorted(DEMO.rglob("*.ogg"))


def _rel(p: Path) -> str:
    return p.relative_to(DEMO).as_posix()


def test_enough_tracks_and_albums_within_the_size_budget():
    albums: dict[tuple[str, str], int] = {}
    for p in TRACKS:
        game, album, _ = p.relative_to(DEMO).parts
        albums[(game, album)] = albums.get((game, album), 0) + 1
    assert len(TRACKS) >= MIN_TRACKS
    assert len(albums) >= MIN_ALBUMS
    # every album needs a second song, or "same album first" cannot happen for its songs
    assert min(albums.values()) >= 2, albums
    size_mb = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file()) / 1e6
    assert size_mb < MAX_MB


@pytest.mark.parametrize("path", TRACKS, ids=_rel)
def test_each_track_is_a_tagged_30_second_excerpt(path: Path):
    info = sf.info(str(path))
    assert info.format == "OGG"
    assert abs(info.duration - EXCERPT_S) < 1.0
    tags = OggVorbis(str(path))
    for key in ("title", "artist", "album", "license", "copyright"):
        assert tags.get(key) and tags[key][0].strip(), f"{_rel(path)} lacks a {key} tag"


def test_credits_name_source_author_and_licence_of_every_track():
    text = (DEMO / "CREDITS.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+\.ogg)` \|.*$", text, flags=re.M)}
    assert set(rows) == {_rel(p) for p in TRACKS}
    for rel, row in rows.items():
        cells = [c.strip() for c in row.strip("|").split("|")]
        # file, title, game, package, original file, author, licence, excerpt
        assert len(cells) == 8, rel
        assert all(cells), f"{rel}: empty cell in {cells}"
        assert re.search(r"GPL|CC-BY", cells[6]), f"{rel}: licence {cells[6]!r}"
