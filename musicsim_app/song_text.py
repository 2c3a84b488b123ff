"""How a song is shown: tags first, then the file and folder names."""

from __future__ import annotations

from pathlib import Path

from trainer.labels import library_parts, tag_or_folder_artist


def title(song) -> str:
    return song.title or Path(song.path).stem


def album(song) -> str:
    """The album tag, else the folder holding the song (what the table shows)."""
    if song.album:
        return song.album
    rel = library_parts(song)
    return rel[-2] if len(rel) >= 2 else ""


#: The artist tag, else the folder above the album's.
artist = tag_or_folder_artist


def rel_path(song) -> str:
    try:
        return Path(song.path).relative_to(song.root).as_posix()
    except (ValueError, AttributeError):
        return str(song.path)


def describe(song) -> str:
    """ "Title — Artist — Album" for tooltips and the query panel."""
    return " — ".join(p for p in (title(song), artist(song), album(song)) if p)


def playlist_entry(song) -> tuple[Path, float | None, str]:
    """``(file, seconds, "Artist - Title")``: one entry of ``trainer.playlists.write_m3u``."""
    return song.path, song.duration_s, f"{artist(song) or 'Unknown'} - {title(song)}"
