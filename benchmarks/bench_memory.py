#!/usr/bin/env python3
"""Peak resident memory while indexing a large library (default 10,000 songs).

The library is synthetic (``--songs`` stereo 44.1 kHz Ogg Vorbis files of ``--seconds`` s, hard links
to a few distinct files, 100 per folder) or, with ``--corpus-links``, the real corpus symlinked
over and over.  Indexing decodes only 8 excerpts of 3 s per song whatever its length, so every song
sends the same arrays through the pipeline; the file length only changes the decoding time.

Memory is sampled every 0.2 s as the *sum* of the resident memory of this process and all its
decoder processes (Linux ``/proc``), and also read from ``getrusage`` (peak of this process, and
of the largest child).  RSS against songs done shows whether anything grows with the library.
Baselines in the same run: this process with the model loaded before indexing starts, and what
the excerpts of the whole library would take if they were held (the design that streams avoids).

usage: python benchmarks/bench_memory.py [--songs 10000] [--model default] [--corpus-links]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_CORPUS,
    Report,
    RssSampler,
    add_model_option,
    base_parser,
    corpus_files,
    load_model_arg,
    peak_rss_mb,
    rss_tree_mb,
    synth_library,
)

GOAL_MB = 2048.0


def corpus_link_library(dest: Path, corpus: Path, n: int) -> Path:
    files = corpus_files(corpus)
    for k in range(n):
        folder = dest / f"a{k // 1000:03d}" / f"b{k // 100:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        src = files[k % len(files)]
        (folder / f"{k:05d}{src.suffix}").symlink_to(src)
    return dest


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--songs", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=4.0, help="length of each synthetic song")
    p.add_argument(
        "--corpus-links", action="store_true", help="real music: the corpus symlinked --songs times"
    )
    p.add_argument("--corpus", default=DEFAULT_CORPUS)
    p.add_argument("--workers", type=int, default=None)
    add_model_option(p)
    args = p.parse_args()

    from trainer.library import Library

    rep = Report("bench_memory: peak resident memory while indexing", args)
    base = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    try:
        if args.corpus_links:
            lib_dir = corpus_link_library(base / "library", Path(args.corpus), args.songs)
            kind = f"{args.songs:,} symlinks to the {len(corpus_files(args.corpus))} corpus songs"
        else:
            lib_dir = synth_library(base / "library", args.songs, seconds=args.seconds, distinct=40)
            kind = f"{args.songs:,} synthetic {args.seconds:g}-s stereo 44.1 kHz Ogg Vorbis songs"
        loaded, note = load_model_arg(args.model)
        rss_model = rss_tree_mb()
        rep.log(f"{kind}; model {note}; RSS with the model loaded: {rss_model:.0f} MB")
        curve: list[tuple[int, float]] = []
        next_mark = [0]

        def progress(done: int, total: int, message: str = "") -> None:
            if total and done >= next_mark[0]:
                curve.append((done, rss_tree_mb()))
                next_mark[0] = done + max(1, total // 20)

        t = time.perf_counter()
        with RssSampler(0.2) as sampler, Library(base / "home") as lib:
            ir = lib.index(lib_dir, loaded, workers=args.workers, progress=progress)
        wall = time.perf_counter() - t
        me, child = peak_rss_mb()
        peak = sampler.peak
        fc = loaded.info.features
        held_gb = (
            args.songs * loaded.info.features.n_excerpts * loaded.info.features.excerpt_samples * 4 / 1e9
        )
        rep.log(
            f"indexed {ir.indexed:,} ({len(ir.skipped)} skipped) in {wall:.0f} s "
            f"({ir.indexed / wall:.1f} songs/s)"
        )
        for done, mb in curve:
            rep.log(f"  after {done:6,} songs: {mb:6.0f} MB (process + decoders)")
        rep.add(
            f"peak RSS indexing {args.songs:,} songs (process + decoders)",
            peak,
            "MB",
            goal=f"< {GOAL_MB:.0f} MB",
            baseline=f"model loaded, idle: {rss_model:.0f} MB",
            ratio=f"+{peak - rss_model:.0f} MB while indexing",
            ok=peak < GOAL_MB,
            note=f"sampled every 0.2 s, {len(sampler.samples)} samples",
        )
        rep.add(
            "peak RSS, this process alone (getrusage)",
            me,
            "MB",
            note=f"children's getrusage peak {child:.0f} MB counts the parent's pages at fork, before exec",
        )
        if len(curve) >= 4:
            early = max(mb for d, mb in curve[: len(curve) // 4])
            late = max(mb for d, mb in curve[-len(curve) // 4 :])
            rep.add(
                "RSS growth, last quarter vs first quarter",
                late - early,
                "MB",
                note="about 0 when nothing is held per song",
            )
        rep.add(
            "if the library's excerpts were held",
            held_gb * 1000,
            "MB",
            note="computed, not run",
            baseline=f"{fc.n_excerpts} × {fc.excerpt_seconds:g} s float32 per song",
        )
        rep.extra.update({"curve": curve, "wall_s": wall, "indexed": ir.indexed})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(os.EX_OK if main() == 0 else 1)
