"""Decode many files in worker processes, robust to files that crash the decoder.

Decoding is the CPU-heavy part of indexing and holds the GIL in parts of libsndfile's wrapper,
so it runs in separate processes (spawned, so no torch/Qt state is inherited) while the parent
batches the excerpts through the model.  A file that kills its worker (a decoder segfault on a
hostile file) is retried alone once and then reported as skipped; the rest of the job goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .audio import AudioInfo, load_excerpts
from .config import FeatureConfig
from .errors import AudioError
from .tags import Tags, read_tags


@dataclass
class Decoded:
    """What a worker returns for one file: excerpts and metadata, or the reason it failed."""

    path: Path
    waves: np.ndarray | None
    info: AudioInfo | None
    tags: Tags | None
    error: str | None


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr: int | None = None


@contextmanager
def quiet_c_stderr() -> Iterator[None]:
    """Send what C libraries write to file descriptor 2 to the null device meanwhile.

    libmpg123 (inside libsndfile) prints notes such as "Trying to resync..." and "Xing stream size
    off" straight to fd 2 for every odd MP3; the reason a file fails reaches the user as its
    ``AudioError`` anyway.  Nested and concurrent uses share one redirection (the last one out
    restores fd 2), so decoding on several threads is safe.
    """
    global _quiet_depth, _saved_stderr
    with _quiet_lock:
        if _quiet_depth == 0:
            try:
                sys.stderr.flush()
                _saved_stderr = os.dup(2)
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
                os.close(null)
            except (OSError, ValueError, AttributeError):  # no fd 2 (e.g. pythonw): nothing to quiet
                _saved_stderr = None
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr is not None:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


def decode_one(path: Path, cfg: FeatureConfig | None, want_tags: bool = True) -> Decoded:
    with quiet_c_stderr():
        return _decode_one(path, cfg, want_tags)


def _decode_one(path: Path, cfg: FeatureConfig | None, want_tags: bool) -> Decoded:
    tags = None
    try:
        if want_tags:
            tags = read_tags(path)
        if cfg is None:
            from .audio import probe

            return Decoded(path, None, probe(path), tags, None)
        ex = load_excerpts(path, cfg)
        return Decoded(path, ex.waves, ex.info, tags, None)
    except AudioError as exc:
        return Decoded(path, None, None, tags, str(exc))
    except MemoryError:
        return Decoded(path, None, None, tags, "out of memory while decoding")
    except Exception as exc:  # a decoder bug must not end the whole job
        return Decoded(path, None, None, tags, f"unexpected decoder error: {type(exc).__name__}: {exc}")


def _job(args: tuple[str, dict[str, Any] | None, bool]) -> Decoded:
    raw, cfg, want_tags = args
    return decode_one(Path(raw), FeatureConfig.from_dict(cfg) if cfg is not None else None, want_tags)


def _die_with_parent(parent_pid: int) -> None:
    """Decoder-process initializer: end this process soon after the one that started it is gone,
    even when that one was SIGKILLed and could clean nothing up (a watchdog thread sees the parent
    change every 0.2 s: the orphan is handed to init or a subreaper)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="musicsim-parent-watchdog", daemon=True).start()


def _pool(n_workers: int, ctx: Any) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=n_workers, mp_context=ctx, initializer=_die_with_parent, initargs=(os.getpid(),)
    )


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. inside a container), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    return max(1, min(4, usable_cores()))


def decode_many(
    paths: Iterable[Path],
    cfg: FeatureConfig | None,
    *,
    workers: int | None = None,
    want_tags: bool = True,
    window: int = 16,
) -> Iterator[Decoded]:
    """Yield a ``Decoded`` for every path, in completion order.  ``workers=0`` decodes in-process."""
    paths = list(paths)
    n_workers = default_workers() if workers is None else workers
    if n_workers <= 0 or len(paths) <= 2:
        for p in paths:
            yield decode_one(p, cfg, want_tags)
        return
    cfg_dict = cfg.to_dict() if cfg is not None else None
    pending = list(reversed(paths))
    ctx = mp.get_context("spawn")
    pool = _pool(n_workers, ctx)
    in_flight: dict[Future[Decoded], Path] = {}
    suspects: list[Path] = []
    try:
        while pending or in_flight:
            while pending and len(in_flight) < window:
                p = pending.pop()
                in_flight[pool.submit(_job, (os.fspath(p), cfg_dict, want_tags))] = p
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                p = in_flight.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    broken = True
                    suspects.append(p)
            if broken:
                suspects.extend(in_flight.values())
                in_flight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                for p in suspects:
                    yield _decode_isolated(p, cfg_dict, want_tags, ctx)
                suspects.clear()
                pool = _pool(n_workers, ctx)
    finally:
        for fut in in_flight:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def decode_isolated(path: Path, cfg: FeatureConfig | None, want_tags: bool = True) -> Decoded:
    """Decode one file in a process of its own (~0.4 s more than in-process): a file that crashes
    its decoder is reported as such instead of ending the caller -- for a query from outside the
    library, where there is no job to skip the file from and the caller may be the window.  A
    script that calls it needs the ``if __name__ == "__main__":`` guard every spawned process pool
    needs; without it the worker cannot start and the file reads as "the decoder crashed"."""
    cfg_dict = cfg.to_dict() if cfg is not None else None
    return _decode_isolated(path, cfg_dict, want_tags, mp.get_context("spawn"))


def _decode_isolated(path: Path, cfg: dict[str, Any] | None, want_tags: bool, ctx: Any) -> Decoded:
    with _pool(1, ctx) as solo:
        try:
            return solo.submit(_job, (os.fspath(path), cfg, want_tags)).result()
        except BrokenProcessPool:
            return Decoded(path, None, None, None, "the decoder crashed on this file")
