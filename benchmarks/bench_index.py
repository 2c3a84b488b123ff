#!/usr/bin/env python3
"""Indexing throughput on real music: our full pipeline against the decode-only ceiling and a
plain librosa + MFCC baseline, all in the same run.

Stages (each timed on the same songs, page cache warmed first):

* ``index``            -- ``Library.index`` into a fresh database: scan, decode the excerpts in
                          worker processes, log-mel + model in batches, SQLite writes.  The figure.
* ``decode excerpts``  -- only the decode stage of that pipeline (``trainer.decode.decode_many``:
                          seek + decode the 8 excerpts, resample, tags) with the same worker
                          count: the ceiling the full pipeline is measured against.
* ``model only``       -- log-mel + model on already-decoded excerpts in this process (breakdown).
* ``full decode``      -- whole files decoded with soundfile and resampled with soxr in the same
                          number of processes (what a pipeline that reads every sample costs).
* ``librosa + MFCC``   -- ``librosa.load(sr=22050)`` + 20 MFCC mean/std per song in the same
                          number of processes: the classic baseline.

Real-time multiple = audio duration of the songs / wall time.

usage: python benchmarks/bench_index.py [--limit N] [--workers W] [--threads T] [--model default]
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_CORPUS,
    Report,
    add_model_option,
    audio_duration,
    base_parser,
    corpus_files,
    link_tree,
    load_model_arg,
    warm_page_cache,
)

#: The issue's goal and the published peers it names (seconds per song on their hardware).
GOAL_RT = 600.0
GOAL_CEILING = 0.60
BLISS_S_PER_SONG = 0.34
TAGGER_S_PER_SONG = 8.8


def _warm_librosa() -> None:
    import librosa
    import numpy as np

    y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20)
    librosa.resample(y, orig_sr=44100, target_sr=22050, res_type="soxr_hq")


def _librosa_job(path: str) -> float:
    import librosa
    import numpy as np

    y, sr = librosa.load(path, sr=22050, mono=True)
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    np.concatenate([m.mean(axis=1), m.std(axis=1)])
    return len(y) / sr


def _full_decode_job(path: str) -> float:
    from trainer.audio import load_audio

    y, sr = load_audio(path, 22050)
    return len(y) / sr


def _pool_run(fn, paths: list[Path], workers: int, initializer=None) -> float:
    """Wall seconds to map ``fn`` over ``paths`` in ``workers`` spawned processes (warm workers)."""
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=initializer) as pool:
        list(pool.map(_noop, range(workers * 2)))  # start and import in every worker first
        t = time.perf_counter()
        list(pool.map(fn, [str(p) for p in paths], chunksize=1))
        return time.perf_counter() - t


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished (reaped) children."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _noop(_: int) -> None:
    time.sleep(0.05)


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=DEFAULT_CORPUS, help="real-music folder (game/album/track)")
    p.add_argument("--limit", type=int, default=None, help="use N songs spread over the corpus (default all)")
    p.add_argument(
        "--baseline-limit",
        type=int,
        default=40,
        help="songs for the two whole-file baselines (0: the same songs as the pipeline)",
    )
    p.add_argument("--workers", type=int, default=None, help="decoder processes (default: the engine's)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads in this process (default: engine's)"
    )
    p.add_argument("--rounds", type=int, default=1, help="repeat index and decode-only, alternating")
    p.add_argument("--skip-baselines", action="store_true")
    add_model_option(p)
    args = p.parse_args()

    import torch

    from trainer.config import FeatureConfig
    from trainer.decode import decode_many, default_workers
    from trainer.embed import Embedder
    from trainer.library import Library

    rep = Report("bench_index: indexing throughput on real music", args)
    if args.threads:
        torch.set_num_threads(args.threads)
    workers = default_workers() if args.workers is None else args.workers
    loaded, note = load_model_arg(args.model)
    cfg: FeatureConfig = loaded.info.features
    files = corpus_files(args.corpus, args.limit)
    corpus = Path(args.corpus)
    tmp = Path(tempfile.mkdtemp(prefix="bench_index_"))
    try:
        lib_dir = link_tree(files, corpus, tmp / "library")
        mb = warm_page_cache(files) / 1e6
        dur = audio_duration(files)
        rep.log(
            f"{len(files)} songs, {dur / 60:.1f} min of audio ({dur / len(files):.0f} s mean), "
            f"{mb:.0f} MB; model: {note}; decoder workers: {workers}; torch threads here: "
            f"{torch.get_num_threads()}"
        )

        t_index, t_decode, c_index, c_decode = [], [], [], []
        for r in range(args.rounds):
            c, t = cpu_seconds(), time.perf_counter()
            n_ok = 0
            for d in decode_many(files, cfg, workers=workers, want_tags=True):
                n_ok += d.waves is not None
            t_decode.append(time.perf_counter() - t)
            c_decode.append(cpu_seconds() - c)
            rep.log(
                f"round {r + 1}: decode excerpts {t_decode[-1]:.2f} s wall, {c_decode[-1]:.2f} s CPU "
                f"({n_ok} ok)"
            )

            home = tmp / f"home{r}"
            with Library(home) as lib:
                c, t = cpu_seconds(), time.perf_counter()
                ir = lib.index(lib_dir, loaded, workers=workers)
                t_index.append(time.perf_counter() - t)
                c_index.append(cpu_seconds() - c)
            rep.log(
                f"round {r + 1}: index {t_index[-1]:.2f} s wall, {c_index[-1]:.2f} s CPU "
                f"({ir.indexed} indexed, {len(ir.skipped)} skipped)"
            )
            shutil.rmtree(home, ignore_errors=True)
        ti, td = min(t_index), min(t_decode)
        ci, cd = min(c_index), min(c_decode)
        n = len(files)
        rt_index, rt_decode = dur / ti, dur / td
        share = td / ti
        rep.add(
            "index: real-time multiple",
            rt_index,
            "×",
            goal=f">= {GOAL_RT:.0f}×",
            baseline=f"decode-only {rt_decode:.0f}×",
            ratio=f"{share:.0%} of ceiling",
            ok=rt_index >= GOAL_RT,
        )
        rep.add(
            "index: s per song",
            ti / n,
            "s",
            goal="<= 0.30 s (3-min song)",
            baseline=f"bliss-rs {BLISS_S_PER_SONG} s, tagger {TAGGER_S_PER_SONG} s (published)",
            ratio=f"{BLISS_S_PER_SONG / (ti / n):.1f}× bliss-rs",
            ok=ti / n <= 0.30,
            note=f"mean song {dur / n:.0f} s",
        )
        rep.add("index: songs per minute", n / ti * 60, "songs/min", goal=">= 200", ok=n / ti * 60 >= 200)
        rep.add(
            "index: share of decode-only ceiling",
            share * 100,
            "%",
            goal=f">= {GOAL_CEILING:.0%}",
            baseline=f"decode-only {td:.2f} s",
            ratio=f"{share:.2f}",
            ok=share >= GOAL_CEILING,
        )
        rep.add(
            "decode excerpts only (ceiling)",
            rt_decode,
            "×",
            baseline=f"{td / n:.3f} s/song",
            note=f"{workers} workers, same decode stage",
        )
        # CPU seconds barely depend on what else runs on the machine: with every core busy the wall
        # time of a stage is its CPU time / cores, so cd / ci is the share of the ceiling an idle
        # machine gives, and dur / (ci / cores) its real-time multiple.
        cores = os.cpu_count() or 1
        rep.add(
            "index: CPU s per song",
            ci / n,
            "s",
            baseline=f"decode-only {cd / n:.3f} s",
            ratio=f"{cd / ci:.0%} of ceiling (CPU)",
            note=f"idle {cores}-core estimate {dur / (ci / cores):.0f}× real time",
        )

        # breakdown: log-mel + model on decoded excerpts, in this process
        sample = files[: min(16, n)]
        waves = [d.waves for d in decode_many(sample, cfg, workers=0, want_tags=False) if d.waves is not None]
        emb = Embedder(loaded, device="cpu")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as the pipeline runs it on this machine (one core per decoder)
        emb.embed_songs(waves[:2])
        c, t = time.process_time(), time.perf_counter()
        emb.embed_songs(waves)
        t_model = (time.perf_counter() - t) / len(waves)
        c_model = (time.process_time() - c) / len(waves)
        torch.set_num_threads(threads)
        n_ex = sum(len(w) for w in waves)
        rep.add(
            "model only (log-mel + net), CPU s per song",
            c_model,
            "s",
            baseline=f"{n_ex / len(waves) / c_model:.0f} excerpts per CPU s",
            note=f"1 torch thread; wall {t_model:.3f} s/song",
        )

        if not args.skip_baselines:
            base = files if not args.baseline_limit else corpus_files(args.corpus, args.baseline_limit)
            if args.limit and args.baseline_limit and args.baseline_limit >= len(files):
                base = files
            bdur = dur if base is files else audio_duration(base)
            t_full = _pool_run(_full_decode_job, base, workers)
            rt_full = bdur / t_full
            rep.add(
                "full-file decode + resample",
                rt_full,
                "×",
                baseline=f"{t_full / len(base):.2f} s/song",
                ratio=f"index is {rt_index / rt_full:.1f}× faster",
                note=f"{len(base)} songs, {workers} processes",
            )
            t_lib = _pool_run(_librosa_job, base, workers, initializer=_warm_librosa)
            rt_lib = bdur / t_lib
            rep.add(
                "librosa load + MFCC (classic baseline)",
                rt_lib,
                "×",
                baseline=f"{t_lib / len(base):.2f} s/song",
                ratio=f"index is {rt_index / rt_lib:.1f}× faster",
                note=f"{len(base)} songs, {workers} processes, warm",
            )
        rep.extra.update(
            {
                "songs": n,
                "audio_s": dur,
                "index_s": t_index,
                "decode_s": t_decode,
                "index_cpu_s": c_index,
                "decode_cpu_s": c_decode,
                "workers": workers,
                "threads": torch.get_num_threads(),
                "model": note,
            }
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
