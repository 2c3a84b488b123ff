"""``musicsim duplicates``: the recordings the library holds more than once (:mod:`trainer.duplicates`).

Registered into :mod:`trainer.cli` by :func:`add_parsers`.  The model's embeddings come from the
index (``musicsim index`` first); nothing is decoded, and torch is not imported.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .errors import MusicSimError, NothingIndexed


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "duplicates",
        help="list the songs that are one recording: copies, re-encodes, one take under two names",
        description="List the recordings the index holds more than once: songs whose embeddings are "
        "closer than a small share of the library's typical distance between a song and its nearest "
        "other song, and that last as long as each other. Nothing is deleted.",
    )
    s.add_argument("--model", default="default", help="model whose embeddings to compare (default: default)")
    s.add_argument(
        "--max-distance",
        type=float,
        default=None,
        metavar="D",
        help="cosine distance under which two songs count as one recording (default: 4 %% of the "
        "library's median distance from a song to its nearest other song)",
    )
    s.set_defaults(run=cmd_duplicates)


def _length(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "?:??"
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def cmd_duplicates(args: argparse.Namespace) -> int:
    from .cli import _Bar, _home, _show
    from .cli_playlists import _model_info
    from .duplicates import LENGTH_SLACK_S, LENGTH_TOLERANCE, find_duplicates
    from .library import Library
    from .playlists import song_album, song_artist

    if args.max_distance is not None and not (0 < args.max_distance < 2):
        raise MusicSimError(f"--max-distance must lie between 0 and 2, got {args.max_distance}")
    info = _model_info(args.model, _home(args))
    with Library(_home(args)) as lib:
        ids, matrix = lib.embeddings(info.key)
        if len(ids) == 0:
            raise NothingIndexed(info.name, args.model)
        by_id = {s.id: s for s in lib.songs_by_ids(ids.tolist())}
    songs = [by_id[int(i)] for i in ids]
    lengths = np.array([s.duration_s if s.duration_s is not None else np.nan for s in songs], float)
    bar = _Bar("duplicates", args.quiet)
    try:
        found = find_duplicates(matrix, lengths, max_distance=args.max_distance, progress=bar)
    finally:
        bar.close()
    how = (
        f"model '{_show(info.name)}'; cosine distance under {found.max_distance:.4f}"
        + (
            f", {found.max_distance / found.typical_distance:.0%} of the library's median nearest-song "
            f"distance {found.typical_distance:.3f}"
            if args.max_distance is None and found.typical_distance > 0
            else ""
        )
        + f"; lengths within {LENGTH_TOLERANCE:.0%} or {LENGTH_SLACK_S:.0f} s"
    )
    count = len(found.groups)
    if not count:
        print(f"no recording is in the library twice among {len(songs)} songs ({how})")
        return 0
    print(
        f"{count} recording{'s' if count > 1 else ''} found more than once among {len(songs)} songs ({how}):"
    )
    for n, (group, closest) in enumerate(zip(found.groups, found.closest, strict=True), 1):
        print(f"{n:3d}. distance {closest:.4f}")
        for row in group:
            s = songs[row]
            who = " — ".join(_show(x, 200) for x in (song_artist(s), song_album(s)) if x)
            size = f"{s.size / 1e6:.1f} MB"
            print(
                f"     {_show(s.path)}  [{_show(s.display_title, 200)}{' — ' + who if who else ''}]  "
                f"{_length(s.duration_s)}  {size}"
            )
    return 0
