"""The engine calls the app runs on worker threads, as plain functions of plain data.

Each opens its own short-lived ``Library`` connection, so the GUI thread never shares a SQLite
connection with a worker.  Nothing here touches Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Snapshot:
    """What the GUI needs to show a library with one model: songs, embeddings, failures."""

    songs: list = field(default_factory=list)
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    failures: dict[int, str] = field(default_factory=dict)
    model_key: str = ""
    #: every folder the index holds, open or not
    known_roots: list[Path] = field(default_factory=list)


def _scoped(progress, index: int, count: int, label: str):
    """Prefix a job's progress messages with which folder of several it is on."""
    if progress is None or count <= 1:
        return progress

    def inner(done: int, total: int, message: str = "") -> None:
        progress(done, total, f"[{index + 1}/{count}] {label}: {message}")

    return inner


def scan_roots(home: Path, roots: list[Path], *, progress=None, should_stop=None) -> list:
    from trainer.library import Library

    with Library(home) as lib:
        return [
            lib.scan(r, progress=_scoped(progress, i, len(roots), Path(r).name), should_stop=should_stop)
            for i, r in enumerate(roots)
        ]


def index_roots(
    home: Path,
    roots: list[Path],
    model_name: str,
    *,
    device: str = "auto",
    workers: int | None = None,
    progress=None,
    should_stop=None,
) -> list:
    from trainer.library import Library
    from trainer.modelstore import LazyModel, available_models, load_model

    # Known models load their weights (and torch) only if a song needs embedding: a library that
    # is indexed already, or ships precomputed embeddings, is ready without waiting for torch.
    ref = next((r for r in available_models(home) if r.name == model_name), None)
    loaded = LazyModel(ref) if ref is not None else load_model(model_name, home)  # (unknown: its error)
    with Library(home) as lib:
        return [
            lib.index(
                r,
                loaded,
                device=device,
                workers=workers,
                progress=_scoped(progress, i, len(roots), Path(r).name),
                should_stop=should_stop,
            )
            for i, r in enumerate(roots)
        ]


def embed_outside_file(
    home: Path,
    model_name: str,
    path: Path,
    roots: list[Path],
    *,
    device: str = "auto",
    progress=None,
    should_stop=None,
):
    """For the window's *Find songs like a file*: the id of the song at ``path`` when it is one of
    the open folders' (``roots``; looked up in the index, as ``musicsim query`` does), else the
    song from outside the library and its vector under ``model_name``
    (:func:`trainer.query.embed_outside`)."""
    from trainer.device import resolve_device
    from trainer.jobs import check_stop, report
    from trainer.library import Library
    from trainer.modelstore import load_model
    from trainer.query import embed_outside
    from trainer.safetext import shown

    with Library(home) as lib:
        song = lib.song_by_path(path)
    if song is not None and Path(song.root) in {Path(r).expanduser().resolve() for r in roots}:
        return song.id
    name = shown(Path(path).name)
    report(progress, 0, 1, f"listening to {name}")
    loaded = load_model(model_name, home)
    check_stop(should_stop)
    outside = embed_outside(loaded, path, loaded.info.embedding_dim, device=resolve_device(device))
    report(progress, 1, 1, f"listened to {name}")
    return outside


def load_snapshot(home: Path, roots: list[Path], model_key: str) -> Snapshot:
    from trainer.library import Library

    snap = Snapshot(model_key=model_key)
    with Library(home) as lib:
        id_parts, x_parts = [], []
        snap.known_roots = [Path(r) for r in lib.roots()]
        known_roots = set(snap.known_roots)
        for root in roots:
            root = Path(root).expanduser().resolve()
            if root not in known_roots:
                continue
            snap.songs.extend(lib.songs(root))
            if model_key:
                ids, X = lib.embeddings(model_key, root)
                if len(ids):
                    id_parts.append(ids)
                    x_parts.append(X)
        if id_parts:
            snap.ids = np.concatenate(id_parts)
            snap.matrix = np.concatenate(x_parts).astype(np.float32, copy=False)
        if model_key:
            snap.failures = lib.failures(model_key)
    return snap


def describe_device(name: str = "auto") -> str:
    from trainer.device import describe_device as describe
    from trainer.device import resolve_device

    return describe(resolve_device(name))


def spectrogram(path: Path, features=None, max_seconds: float = 600.0):
    """``(image (n_mels, frames) dB, seconds_per_frame, mel_hz (n_mels,))`` of a track."""
    from trainer.audio import load_audio
    from trainer.config import FeatureConfig
    from trainer.features import log_mel_image, mel_frequencies

    cfg = features or FeatureConfig()
    wave, sr = load_audio(path, sr=cfg.sample_rate, mono=True, duration_s=max_seconds)
    image = log_mel_image(wave, sr, cfg)
    return image, cfg.hop_length / cfg.sample_rate, mel_frequencies(cfg)


def warm_up() -> None:
    """Import the heavy engine modules and trigger torch's lazy imports once, off the GUI thread.

    Importing torch._dynamo (which Adam's first step pulls in, with sympy and mpmath) holds the
    GIL for about half a second; doing it at start-up keeps that stall out of a training run.
    """
    import torch

    import trainer.bench  # noqa: F401
    import trainer.train  # noqa: F401

    layer = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-5)
    layer(torch.zeros(1, 2)).sum().backward()
    opt.step()


def warm_up_search() -> None:
    """Import the scalers, distances and projections the first query and the map use."""
    import scipy.spatial.distance  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import sklearn.preprocessing  # noqa: F401
