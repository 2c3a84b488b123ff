"""Title/artist/album/genre from file tags (mutagen), with a file-name fallback for the title."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tags:
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None


def _first(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    text = str(value).strip().replace("\x00", "")
    return text[:500] or None


def read_tags(path: Path) -> Tags:
    """Never raises: a file without readable tags just has empty ones."""
    try:
        import mutagen

        f = mutagen.File(str(path), easy=True)
    except Exception:
        return Tags()
    if f is None or not getattr(f, "tags", None):
        return Tags()
    try:
        get = f.tags.get
        return Tags(_first(get("title")), _first(get("artist")), _first(get("album")), _first(get("genre")))
    except Exception:
        return Tags()
