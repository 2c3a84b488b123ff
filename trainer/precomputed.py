"""Embeddings shipped inside a music folder, so opening it needs no decoding.

The demo library carries one such file for the default model: the first window then shows
similar songs at once instead of after an indexing job.  The file is only a shortcut, never the
truth: an entry is used when the index asks for *the same model key* (name and weights hash) and
the audio file on disk has *the same size and SHA-256* it had when the file was written.  Anything
else — a retrained model, an edited or re-encoded song, a missing, truncated or foreign file — is
ignored with a reason, and the song is simply decoded and embedded as usual.  Deleting the file
changes nothing but the time the first index takes.

Format: one safetensors file (raw tensors and a JSON string, nothing executable) with the tensor
``embeddings`` ``(n, d)`` float32 and the metadata key ``musicsim``, a JSON object with the model
key, its feature settings and one record per song (path relative to the folder, size, SHA-256,
and the facts indexing would have probed: duration, sample rate, channels, tags).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import save_file

from . import bounds
from .atomic import atomic_path
from .errors import ModelError
from .safetext import clean_tag, shown

FILE_NAME = "musicsim-embeddings.safetensors"
FORMAT = "musicsim-precomputed-embeddings"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PrecomputedSong:
    """One song's identity (where, how big, which bytes) and what indexing would have probed."""

    rel: str
    size: int
    sha256: str
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None


@dataclass
class PrecomputedEmbeddings:
    model_key: str
    model_name: str
    features: dict[str, Any]
    songs: list[PrecomputedSong]
    vectors: np.ndarray
    #: entries left out when the file was read, one line each ("entry 3: duration_s must be a number")
    problems: list[str] = field(default_factory=list)

    def by_rel(self) -> dict[str, tuple[PrecomputedSong, np.ndarray]]:
        return {s.rel: (s, self.vectors[i]) for i, s in enumerate(self.songs)}


def write_precomputed(path: Path, data: PrecomputedEmbeddings) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file, then a rename)."""
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(data.songs):
        raise ValueError(f"{len(data.songs)} songs but embeddings of shape {vectors.shape}")
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model_key": data.model_key,
        "model_name": data.model_name,
        "features": data.features,
        "songs": [asdict(s) for s in data.songs],
    }
    try:
        # safetensors writes the file private; it is ordinary data meant to be shipped: 0o644
        with atomic_path(path, mode=0o644) as tmp:
            save_file(
                {"embeddings": vectors}, str(tmp), metadata={"musicsim": json.dumps(meta, sort_keys=True)}
            )
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"cannot write '{path}': {getattr(exc, 'strerror', None) or exc}") from exc
    return path


#: A shared file larger than this is not opened (100,000 songs of 1506-d vectors fit in 603 MB).
MAX_FILE_BYTES = 1 << 30
#: Most songs one file may describe.
MAX_SONGS = 1_000_000
MAX_REL_CHARS = 4096


def read_precomputed(path: Path) -> PrecomputedEmbeddings:
    """Read a file written by ``write_precomputed``; a malformed file raises ``ModelError``.

    Everything in it is checked before use: the file's size (before it is opened), the metadata's
    structure, every field's type and bounds, the vectors' shape.  A malformed *entry* does not
    spoil the others: it is left out and named in ``problems``.
    """
    from safetensors import safe_open

    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES >> 30} GiB")
        with safe_open(str(path), framework="numpy") as f:
            raw = (f.metadata() or {}).get("musicsim")
            if not isinstance(raw, str):
                raise ValueError("no MusicSim metadata")
            meta = json.loads(raw)
            if not isinstance(meta, dict):
                raise ValueError("metadata is not a JSON object")
            if meta.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            version = bounds.number(meta.get("version", 0), int, 1, 2**31, "version")
            if version > FORMAT_VERSION:
                raise ValueError(f"version {version} is newer than this MusicSim reads ({FORMAT_VERSION})")
            model_key = bounds.text(meta.get("model_key"), "model_key", max_chars=400)
            model_name = bounds.text(meta.get("model_name", ""), "model_name", max_chars=400, empty=True)
            features = meta.get("features")
            if not isinstance(features, dict):
                raise ValueError("features must be an object")
            entries = meta.get("songs")
            if not isinstance(entries, list) or len(entries) > MAX_SONGS:
                raise ValueError(f"songs must be a list of at most {MAX_SONGS}")
            if "embeddings" not in f.keys():
                raise ValueError("no 'embeddings' tensor")
            shape = tuple(f.get_slice("embeddings").get_shape())
            if len(shape) != 2 or shape[0] != len(entries) or not 1 <= shape[1] <= bounds.MAX_EMBEDDING_DIM:
                raise ValueError(f"embeddings of shape {shape} for {len(entries)} songs")
            vectors = f.get_tensor("embeddings")
        if vectors.dtype != np.float32:
            raise ValueError(f"embeddings of type {vectors.dtype}, not float32")
    except RecursionError as exc:
        raise ModelError(
            f"precomputed embeddings '{shown(path)}' are unusable: JSON nested too deeply"
        ) from exc
    except (OSError, SafetensorError, ValueError, TypeError, KeyError, OverflowError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ModelError(f"precomputed embeddings '{shown(path)}' are unusable: {shown(why, 300)}") from exc
    songs: list[PrecomputedSong] = []
    keep: list[int] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            song = _song(entry)
            if song.rel in seen:
                raise ValueError(f"'{shown(song.rel, 80)}' is listed twice")
            seen.add(song.rel)
        except ValueError as exc:
            problems.append(f"entry {i + 1}: {exc}")
            continue
        songs.append(song)
        keep.append(i)
    return PrecomputedEmbeddings(model_key, model_name, features, songs, vectors[keep], problems)


_INT_FIELDS = {"size": (0, 1 << 50), "sample_rate": (1, 10_000_000), "channels": (1, 1024)}
_TAG_FIELDS = ("title", "artist", "album", "genre")


def _song(entry: Any) -> PrecomputedSong:
    """One ``songs`` entry, every field typed and bounded; tags are cleaned (``clean_tag``)."""
    if not isinstance(entry, dict):
        raise ValueError(f"not an object but {type(entry).__name__}")
    rel = entry.get("rel")
    if not isinstance(rel, str) or not rel or len(rel) > MAX_REL_CHARS or "\0" in rel:
        raise ValueError("rel must be a relative path")
    if (
        rel.startswith("/")
        or ".." in rel.split("/")
        or any(0xD800 <= ord(c) < 0xDC80 or 0xDD00 <= ord(c) < 0xE000 for c in rel)
    ):
        raise ValueError(f"rel '{shown(rel, 80)}' is not a path inside the folder")
    sha = entry.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError("sha256 must be 64 lower-case hex digits")
    values: dict[str, Any] = {"rel": rel, "sha256": sha}
    for name, (low, high) in _INT_FIELDS.items():
        if entry.get(name) is not None or name == "size":
            values[name] = bounds.number(entry.get(name), int, low, high, name)
    if entry.get("duration_s") is not None:
        values["duration_s"] = bounds.number(entry["duration_s"], float, 0.0, 1e7, "duration_s")
    for name in _TAG_FIELDS:
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be text, found {type(value).__name__}")
        values[name] = clean_tag(value)
    return PrecomputedSong(**values)
