"""Text from files (names, tags, shared titles) made safe to store, print and write to playlists.

A file name or a tag is whatever its author typed: escape sequences that repaint a terminal, BEL,
CR/LF that forge extra output lines or playlist entries, bidi overrides that reverse what is shown,
megabytes of title, bytes that are not UTF-8.  Stored tags are cleaned once (``clean_tag``);
everything printed goes through ``shown`` (control characters as visible escapes, undecodable
bytes as ``\\udcXX``, long text cut).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: Longest tag kept in the index (what mutagen's reader keeps too).
MAX_TAG_CHARS = 500
#: Longest tag or title printed on one line.
MAX_SHOWN_CHARS = 200

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x07": "\\a", "\x1b": "\\e", "\x08": "\\b"}
#: C0 and C1 controls, DEL, unpaired surrogates (undecodable bytes), line/paragraph separators and
#: the format characters that change how surrounding text is laid out (Trojan-Source style).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds a control or bidi character or an unpaired surrogate."""
    return _UNSAFE.search(text) is not None


def shown(value: object, limit: int | None = None) -> str:
    """``value`` (text, a path, bytes) as one printable, valid UTF-8 line: control and bidi
    characters escaped (``\\e``, ``\\n``, ``\\x07``), bytes that are not UTF-8 as ``\\udcXX``,
    and text beyond ``limit`` characters cut with ``…``."""
    if isinstance(value, (bytes, os.PathLike)):
        value = os.fsdecode(value)
    text = str(value)
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    text = _UNSAFE.sub(_escape, text)
    return text + "…" if cut else text


def clean_tag(value: object) -> str | None:
    """A tag as it is stored: text only, control characters as spaces, unpaired surrogates
    dropped, at most ``MAX_TAG_CHARS``; ``None`` for nothing, or for what is not text."""
    if not isinstance(value, str):
        return None
    value = value[: MAX_TAG_CHARS * 2]
    if _UNSAFE.search(value):
        value = " ".join(_without_controls(value).split())
    return value.strip()[:MAX_TAG_CHARS] or None


def _without_controls(text: str) -> str:
    """Control and bidi characters as spaces, unpaired surrogates dropped."""
    return _UNSAFE.sub(" ", _SURROGATE.sub("", text))


def one_line(value: object) -> str:
    """Text for a one-line field of a file others parse (an M3U ``#EXTINF`` title): control and
    bidi characters become spaces, unpaired surrogates are dropped; valid UTF-8."""
    text = os.fsdecode(value) if isinstance(value, (bytes, os.PathLike)) else str(value)
    return " ".join(_without_controls(text).split())[:MAX_TAG_CHARS]


def m3u_location(path: str | os.PathLike[str]) -> str:
    """How a playlist line names ``path``: the path itself (write it with
    ``errors="surrogateescape"``, so a name that is not UTF-8 keeps its bytes and players find it),
    or, where it holds a control character such as a newline that would split the line, a
    ``file://`` URI with those bytes percent-encoded."""
    text = os.fsdecode(path)
    if _UNSAFE.search(_SURROGATE.sub("", text)):
        return Path(os.path.abspath(text)).as_uri()
    return text
