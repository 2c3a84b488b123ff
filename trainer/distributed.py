"""Embed a folder on a Dask cluster: the optional extra ``pip install 'musicsim[distributed]'``.

One machine indexes with ``Library.index`` (decoder processes + batched inference); past one
machine the same per-song work is spread over a Dask cluster instead of our own scheduler (see
docs/SCALING.md).  Each task embeds a chunk of files inside one Dask worker: the worker loads the
model once (cached per worker process), decodes the excerpts in-process -- the workers are the
parallelism -- and batches the chunk's excerpts through the model.  Results come back as they
complete, so the caller can write them to an index, a file or a table as it likes.

The model travels by reference (``"default"``, ``"classic"``, a model folder): every worker needs
MusicSim installed and the model folder readable, as Dask workers need the code they run anyway.
Dask is imported only inside these functions, so ``trainer`` works without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError
from .jobs import ProgressFn, StopFn, check_stop, report

#: Per worker process: (model reference, home) -> Embedder, so a model is loaded once per worker.
_EMBEDDERS: dict[tuple[str, str | None], Any] = {}


@dataclass
class ChunkResult:
    """One file's outcome: its embedding or the reason it failed."""

    path: Path
    embedding: np.ndarray | None
    duration_s: float | None
    error: str | None


@dataclass
class FolderEmbeddings:
    """Everything ``embed_folder`` found, in path order."""

    paths: list[Path] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    failures: dict[Path, str] = field(default_factory=dict)
    audio_seconds: float = 0.0


def _embedder(model: str, home: str | None, threads: int | None) -> Any:
    key = (model, home)
    if key not in _EMBEDDERS:
        import torch

        from .embed import Embedder
        from .modelstore import load_model

        if threads:
            torch.set_num_threads(threads)
        _EMBEDDERS[key] = Embedder(load_model(model, Path(home) if home else None), device="cpu")
    return _EMBEDDERS[key]


def embed_chunk(
    model: str, paths: list[str], home: str | None = None, threads: int | None = 1
) -> list[ChunkResult]:
    """Embed ``paths`` in this process (a Dask task): decode each, one batched forward pass."""
    from .decode import decode_one

    emb = _embedder(model, home, threads)
    decoded = [decode_one(Path(p), emb.cfg, want_tags=False) for p in paths]
    good = [d for d in decoded if d.waves is not None]
    vectors = iter(emb.embed_songs([d.waves for d in good]))
    return [
        ChunkResult(
            d.path,
            next(vectors) if d.waves is not None else None,
            d.info.duration_s if d.info else None,
            d.error,
        )
        for d in decoded
    ]


def audio_files(root: str | os.PathLike[str]) -> list[Path]:
    """Every candidate audio file under ``root``, in a stable order (the library scan's rules)."""
    from .library import walk_audio

    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        raise ParameterError(f"'{root_path}' is not a folder")
    skipped: list[tuple[Path, str]] = []
    return sorted(p for p, _ in walk_audio(root_path.resolve(), skipped))


def iter_embed_folder(
    root: str | os.PathLike[str],
    model: str = "default",
    *,
    client: Any,
    chunk: int = 16,
    home: str | os.PathLike[str] | None = None,
    threads: int | None = 1,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Iterator[list[ChunkResult]]:
    """Submit ``chunk``-file tasks to the Dask ``client``; yield each chunk's results as it completes."""
    from dask.distributed import as_completed

    if chunk < 1:
        raise ParameterError("chunk must be at least 1")
    files = audio_files(root)
    home_s = os.fspath(home) if home is not None else None
    chunks = [[os.fspath(p) for p in files[i : i + chunk]] for i in range(0, len(files), chunk)]
    futures = [client.submit(embed_chunk, model, c, home_s, threads, pure=False) for c in chunks]
    done = 0
    try:
        for fut in as_completed(futures):
            check_stop(should_stop)
            results = fut.result()
            done += len(results)
            report(progress, done, len(files), f"embedded {done}/{len(files)} on the cluster")
            yield results
    finally:
        for fut in futures:
            fut.cancel()


def embed_folder(
    root: str | os.PathLike[str],
    model: str = "default",
    *,
    client: Any = None,
    n_workers: int | None = None,
    chunk: int = 16,
    home: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> FolderEmbeddings:
    """Embed every audio file under ``root`` on a Dask cluster; gather the results in path order.

    With no ``client`` a local cluster of ``n_workers`` single-threaded worker processes (default:
    one per core) is started for the call and closed after it.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ParameterError("distributed embedding needs Dask: pip install 'musicsim[distributed]'") from exc
    own = None
    if client is None:
        from .decode import usable_cores

        cluster = LocalCluster(
            n_workers=n_workers or usable_cores(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        own = (cluster, Client(cluster))
        client = own[1]
    try:
        results = [
            r
            for batch in iter_embed_folder(
                root, model, client=client, chunk=chunk, home=home, progress=progress, should_stop=should_stop
            )
            for r in batch
        ]
    finally:
        if own is not None:
            own[1].close()
            own[0].close()
    results.sort(key=lambda r: os.fsencode(r.path))
    ok = [r for r in results if r.embedding is not None]
    out = FolderEmbeddings(
        paths=[r.path for r in ok],
        failures={r.path: r.error or "unknown error" for r in results if r.embedding is None},
        audio_seconds=float(sum(r.duration_s or 0.0 for r in ok)),
    )
    out.matrix = (
        np.stack([r.embedding for r in ok]).astype(np.float32) if ok else np.zeros((0, 0), np.float32)
    )
    return out
