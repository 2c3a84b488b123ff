"""``musicsim path`` and ``musicsim radio``: journeys and radio as printed playlists and M3U files.

Registered into :mod:`trainer.cli` by :func:`add_parsers`; each subcommand sets ``run`` to its
handler.  The model's embeddings come from the index (``musicsim index`` first); nothing is
decoded, and torch is not imported.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MusicSimError, NothingIndexed


def add_parsers(sub: Any) -> None:
    """Add ``path`` and ``radio`` to the ``musicsim`` subcommands."""
    from .distances import DISTANCES, SCALERS

    def common(s: argparse.ArgumentParser) -> None:
        s.add_argument("--model", default="default", help="model whose embeddings to use (default: default)")
        s.add_argument("--distance", default="cosine", choices=DISTANCES)
        s.add_argument("--scaler", default="Normalizer", choices=SCALERS)
        s.add_argument("--m3u", metavar="FILE", help="also write the playlist to FILE (extended M3U, UTF-8)")

    s = sub.add_parser(
        "path",
        help="a journey of songs from FROM to TO, each closer to TO than the one before",
        description="Print a journey from FROM to TO through the indexed library, one song per line: FROM "
        "first, TO last, no song twice, each song closer to TO than the one before, the steps as short and "
        "even as the library allows.",
    )
    s.add_argument("source", metavar="FROM", help="first song (a file in the library)")
    s.add_argument("target", metavar="TO", help="last song (a file in the library)")
    s.add_argument(
        "--steps",
        type=int,
        default=10,
        metavar="N",
        help="steps from FROM to TO, so N + 1 songs (default 10; fewer when too few songs lie "
        "between the two)",
    )
    common(s)
    s.set_defaults(run=cmd_path)

    s = sub.add_parser(
        "radio",
        help="songs that follow on from SONG: each the nearest not yet played",
        description="Print radio from SONG, one song per line: SONG first, then each time the not yet played "
        "song nearest the last few, not of the last song's album or artist while the library has another.",
    )
    s.add_argument("song", metavar="SONG", help="the song to start from (a file in the library)")
    s.add_argument("--count", type=int, default=20, metavar="N", help="songs in all, SONG first (default 20)")
    common(s)
    s.set_defaults(run=cmd_radio)


@dataclass
class _Library:
    """The index's songs with embeddings for one model, in matrix row order."""

    model: str
    songs: list[Any]  # trainer.library.Song, one per row
    index: Any  # trainer.search.SearchIndex
    row_of: dict[int, int]  # song id -> row
    failures: dict[int, str]


def _model_info(name: str, home: Path) -> Any:
    """The model's ``ModelInfo`` from its ``config.json`` (no weights, no torch)."""
    from .modelstore import available_models, load_model, read_info

    for ref in available_models(home):
        if ref.name == name:
            return ref.info
    folder = Path(name).expanduser()
    if (folder / "config.json").is_file():
        return read_info(folder)
    return load_model(name, home).info  # raises the "unknown model 'x'; available: …" error


def _open(args: argparse.Namespace) -> tuple[Any, _Library]:
    from .cli import _home
    from .library import Library
    from .paths import graphs_dir
    from .search import SearchIndex

    info = _model_info(args.model, _home(args))
    lib = Library(_home(args))
    try:
        ids, matrix = lib.embeddings(info.key)
        if len(ids) == 0:
            raise NothingIndexed(info.name, args.model)
        by_id = {s.id: s for s in lib.songs()}
        songs = [by_id[int(i)] for i in ids]
        index = SearchIndex(matrix, args.scaler, graph_dir=graphs_dir(_home(args)))
        found = _Library(
            info.name, songs, index, {int(i): r for r, i in enumerate(ids)}, lib.failures(info.key)
        )
    except BaseException:
        lib.close()
        raise
    return lib, found


def _row(lib: Any, songs: _Library, text: str, what: str) -> int:
    """The matrix row of the song at path ``text``; a one-line error when there is none."""
    from .cli import _show

    song = lib.song_by_path(text)
    if song is None:
        raise MusicSimError(
            f"{what} '{_show(text)}' is not in the library (add its folder with 'musicsim index DIR' first)"
        )
    if song.id not in songs.row_of:
        reason = songs.failures.get(song.id) or song.error
        raise MusicSimError(
            f"{what} '{_show(text)}' is not indexed with model '{songs.model}'"
            + (f": {reason}" if reason else f"; run 'musicsim index DIR --model {songs.model}'")
        )
    return songs.row_of[song.id]


def _print(playlist: Any, songs: _Library, header: str, args: argparse.Namespace) -> None:
    from .cli import _show
    from .playlists import song_album, song_artist, write_m3u

    print(header)
    steps = np.concatenate([[np.nan], playlist.steps])
    for i, row in enumerate(playlist.rows):
        s = songs.songs[int(row)]
        who = " — ".join(_show(x, 200) for x in (song_artist(s), song_album(s)) if x)  # tags: escaped, cut
        where = f"  step {steps[i]:.4f}" if i else ""
        if playlist.to_end is not None and i:
            where += f", to the end {playlist.to_end[i]:.4f}"
        print(
            f"{i + 1:3d}. {_show(s.path)}  [{_show(s.display_title, 200)}{' — ' + who if who else ''}]{where}"
        )
    print(
        f"mean step {playlist.mean_step:.4f}, longest {playlist.longest_step:.4f} "
        f"({args.distance}, {args.scaler}, model '{songs.model}')"
    )
    if playlist.note:
        print(f"musicsim: note: {playlist.note}", file=sys.stderr)
    if args.m3u:
        out = Path(args.m3u).expanduser()
        picked = [songs.songs[int(r)] for r in playlist.rows]
        write_m3u(
            out,
            [(s.path, s.duration_s, f"{song_artist(s) or 'Unknown'} - {s.display_title}") for s in picked],
        )
        print(f"wrote {len(picked)} songs to {_show(out)}")


def cmd_path(args: argparse.Namespace) -> int:
    from .cli import _show
    from .playlists import journey

    if args.steps < 1:
        raise MusicSimError(f"--steps must be at least 1, got {args.steps}")
    lib, songs = _open(args)
    with lib:
        start = _row(lib, songs, args.source, "FROM")
        end = _row(lib, songs, args.target, "TO")
    if start == end:
        raise MusicSimError("FROM and TO are the same song; a journey needs two")
    n = songs.index.n
    if args.steps + 1 > n:
        raise MusicSimError(
            f"--steps {args.steps} needs {args.steps + 1} songs, but {n} are indexed with "
            f"model '{songs.model}' (at most --steps {n - 1})"
        )
    playlist = journey(songs.index, start, end, args.steps, metric=args.distance)
    _print(
        playlist,
        songs,
        f"journey of {len(playlist) - 1} steps from {_show(args.source)} to {_show(args.target)}:",
        args,
    )
    return 0


def cmd_radio(args: argparse.Namespace) -> int:
    from .cli import _show
    from .playlists import radio, song_labels

    if args.count < 1:
        raise MusicSimError(f"--count must be at least 1, got {args.count}")
    lib, songs = _open(args)
    with lib:
        seed = _row(lib, songs, args.song, "SONG")
    n = songs.index.n
    if args.count > n:
        raise MusicSimError(
            f"--count {args.count} is more than the {n} songs indexed with model '{songs.model}'"
        )
    albums, artists = song_labels(songs.songs)
    playlist = radio(songs.index, seed, args.count, metric=args.distance, albums=albums, artists=artists)
    _print(playlist, songs, f"radio of {len(playlist)} songs from {_show(args.song)}:", args)
    return 0
