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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import save_file

from .errors import ModelError

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

    def by_rel(self) -> dict[str, tuple[PrecomputedSong, np.ndarray]]:
        return {s.rel: (s, self.vectors[i]) for i, s in enumerate(self.songs)}


def write_precomputed(path: Path, data: PrecomputedEmbeddings) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file, then a rename)."""
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(data.songs):
        raise ValueError(f"{len(data.songs)} songs but embeddings of shape {vectors.shape}")
    meta = {
        "format": FORMAT, "version": FORMAT_VERSION, "model_key": data.model_key,
        "model_name": data.model_name, "features": data.features,
        "songs": [asdict(s) for s in data.songs],
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file({"embeddings": vectors}, str(tmp), metadata={"musicsim": json.dumps(meta, sort_keys=True)})
        tmp.chmod(0o644)  # safetensors writes it private; it is ordinary data meant to be shipped
        os.replace(tmp, path)
    except (OSError, SafetensorError) as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot write '{path}': {getattr(exc, 'strerror', None) or exc}") from exc
    return path


def read_precomputed(path: Path) -> PrecomputedEmbeddings:
    """Read a file written by ``write_precomputed``; anything malformed raises ``ModelError``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {})["musicsim"])
            vectors = f.get_tensor("embeddings")
        if meta.get("format") != FORMAT or int(meta.get("version", 0)) > FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} file of version ≤ {FORMAT_VERSION}")
        known = {fld.name for fld in fields(PrecomputedSong)}
        songs = [PrecomputedSong(**{k: v for k, v in s.items() if k in known}) for s in meta["songs"]]
        if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != len(songs):
            raise ValueError(f"embeddings of shape {vectors.shape} ({vectors.dtype}) for {len(songs)} songs")
        return PrecomputedEmbeddings(str(meta["model_key"]), str(meta.get("model_name", "")),
                                     dict(meta["features"]), songs, vectors)
    except (OSError, SafetensorError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"precomputed embeddings '{path}' are unusable: {exc}") from exc
