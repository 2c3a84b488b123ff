"""A song's album and artist labels from where its file lies: the labels folder-based training
(``--labels folders``) and benchmarks use.  Torch- and Qt-free.

The album is ``artist/album`` -- the two folders above the file, relative to the library folder --
so two artists' albums of the same name stay apart; a file directly in the library folder is
``(root)``.  (What the window *shows* as album and artist is the tag first: ``musicsim_app.song_text``.)
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

ROOT_ALBUM = "(root)"


def folder_album(rel: str) -> str:
    """``"artist/album"`` of a path relative to the library folder (``/``-separated)."""
    parts = PurePosixPath(rel).parts
    return "/".join(parts[-3:-1]) if len(parts) >= 2 else ROOT_ALBUM


def folder_artist(rel: str) -> str:
    """The folder above the album's; the album where there is none."""
    parts = PurePosixPath(rel).parts
    return parts[-3] if len(parts) >= 3 else folder_album(rel)


def library_parts(song) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """The parts of a song's path below its library folder (``song.path``, ``song.root``); the
    last three parts of its path when it lies outside it."""
    try:
        return Path(song.path).relative_to(song.root).parts
    except (ValueError, AttributeError):
        return Path(song.path).parts[-3:]


def tag_or_folder_artist(song) -> str:  # type: ignore[no-untyped-def]
    """The artist tag, else the folder above the album's ("" where there is none)."""
    if song.artist:
        return str(song.artist)
    parts = library_parts(song)
    return parts[-3] if len(parts) >= 3 else ""


def tag_or_folder_album(song) -> str:  # type: ignore[no-untyped-def]
    """The album tag, else the folder label of :func:`folder_album` ("" for a file directly in the
    library folder): which album a song is from, as a key (radio keeps two songs of one album apart)."""
    if song.album:
        return str(song.album)
    parts = library_parts(song)
    return folder_album("/".join(parts)) if len(parts) >= 2 else ""  # none for a file at the top
