"""A song's album and artist labels from where its file lies: the labels folder-based training
(``--labels folders``) and benchmarks use.  Torch- and Qt-free.

The album is ``artist/album`` -- the two folders above the file, relative to the library folder --
so two artists' albums of the same name stay apart; a file directly in the library folder is
``(root)``.  (What the window *shows* as album and artist is the tag first: ``musicsim_app.song_text``.)
"""

from __future__ import annotations

from pathlib import PurePosixPath

ROOT_ALBUM = "(root)"


def folder_album(rel: str) -> str:
    """``"artist/album"`` of a path relative to the library folder (``/``-separated)."""
    parts = PurePosixPath(rel).parts
    return "/".join(parts[-3:-1]) if len(parts) >= 2 else ROOT_ALBUM


def folder_artist(rel: str) -> str:
    """The folder above the album's; the album where there is none."""
    parts = PurePosixPath(rel).parts
    return parts[-3] if len(parts) >= 3 else folder_album(rel)
