#!/usr/bin/env python3
"""GUI heartbeat: how late a 10 ms timer on the GUI thread fires while indexing or training run.

A ``QCoreApplication`` (offscreen, no window) runs a 10 ms ``PreciseTimer`` on the main thread, as
``musicsim_app/heartbeat.py`` does, and records every tick's lateness.  The jobs run on a
``QThread`` exactly as the app runs them (engine functions called from a worker thread):

* ``idle``                  -- nothing running: the baseline (what the machine's load alone costs).
* ``indexing``              -- ``Library.index`` of real music with the default model (decoder
                               processes + batched inference on the worker thread).
* ``training (app)``        -- ``trainer.train.train`` with ``threads = cores - 1``, as the
                               training page starts it.
* ``training (torch default threads)`` -- the same with torch's default thread count, to show why
                               the app caps it.
* ``first query``           -- the first query of a library of ``--query-songs`` songs (synthetic
                               128-d embeddings; above 200,000 the app searches an HNSW graph):
                               the app's ``LibrarySession.set_query``, which prepares the search
                               index on a worker, against the same build on the GUI thread (what
                               the app did before), until the results are there.

Goal: lateness at most 50 ms at the 99th percentile and 100 ms at worst.

usage: python benchmarks/bench_heartbeat.py [--seconds 20] [--index-songs 30] [--query-songs 300000]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train_step import pick_training_songs  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_CORPUS,
    Report,
    add_model_option,
    base_parser,
    corpus_files,
    link_tree,
    load_model_arg,
    percentile,
)

GOAL_P99_MS = 50.0
GOAL_MAX_MS = 100.0
INTERVAL_MS = 10


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=DEFAULT_CORPUS)
    p.add_argument("--seconds", type=float, default=20.0, help="length of the idle and training phases")
    p.add_argument("--index-songs", type=int, default=30, help="songs indexed in the indexing phase")
    p.add_argument("--arch", default="musicnet", help="architecture trained in the training phases")
    p.add_argument("--query-songs", type=int, default=300_000, help="library size in the first-query phases")
    p.add_argument("--phases", default="idle,indexing,training,training-default-threads,first-query")
    add_model_option(p)
    args = p.parse_args()

    import torch
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QThread, QTimer

    from trainer.errors import Cancelled
    from trainer.library import Library
    from trainer.train import TrainConfig, train

    threads_default = torch.get_num_threads()  # train() sets the process-wide count and keeps it
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)
    rep = Report("bench_heartbeat: GUI-thread timer lateness while engine jobs run", args)
    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="bench_heartbeat_"))
    corpus = Path(args.corpus)

    class Job(QThread):
        def __init__(self, fn) -> None:
            super().__init__()
            self.fn = fn
            self.error: str | None = None

        def run(self) -> None:  # runs on the worker thread
            try:
                self.fn()
            except Cancelled:
                pass
            except Exception as exc:  # noqa: BLE001 - reported in the table
                self.error = f"{type(exc).__name__}: {exc}"

    def measure(fn, label: str, max_seconds: float, *, on_gui=None, until=None) -> list[float]:
        """Timer lateness while ``fn`` runs on a worker thread, or -- with ``on_gui`` -- after
        ``on_gui()`` ran on the GUI thread, until ``until()`` is true."""
        late: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            late.append(max(0.0, (now - last[0]) * 1000.0 - INTERVAL_MS))
            last[0] = now

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(INTERVAL_MS)
        timer.timeout.connect(tick)
        loop = QEventLoop()
        job = Job(fn) if fn is not None else None
        t0 = time.perf_counter()
        last[0] = t0
        timer.start()
        if job is not None:
            job.finished.connect(loop.quit)
            job.start()
        poll = QTimer()
        if on_gui is not None:
            poll.timeout.connect(lambda: loop.quit() if until() else None)
            poll.start(20)
            QTimer.singleShot(0, on_gui)  # inside the loop, so a stall shows as lateness
        QTimer.singleShot(int(max_seconds * 1000), loop.quit)
        loop.exec()
        poll.stop()
        timer.stop()
        if job is not None:
            stop_flag[0] = True
            job.wait()
            stop_flag[0] = False
            if job.error:
                rep.log(f"{label}: job failed: {job.error}")
        rep.log(f"{label}: {len(late)} ticks in {time.perf_counter() - t0:.1f} s")
        return late

    stop_flag = [False]

    def should_stop() -> bool:
        return stop_flag[0]

    try:
        loaded, note = load_model_arg(args.model)
        index_files = corpus_files(corpus, args.index_songs)
        index_dir = link_tree(index_files, corpus, tmp / "index_library")
        train_dir = link_tree(pick_training_songs(corpus, 48), corpus, tmp / "train_library")
        home = tmp / "home"

        def train_cfg(threads: int | None) -> TrainConfig:
            return TrainConfig(
                library=train_dir,
                arch=args.arch,
                epochs=50,
                batch_size=32,
                lr=1e-4,
                device="cpu",
                name="heartbeat",
                threads=threads,
                augment="auto",
            )

        phases = args.phases.split(",")
        if any(ph.startswith("training") for ph in phases):
            stop_flag[0] = False
            t = time.perf_counter()
            first = [True]

            def stop_after_first_step() -> bool:
                return not first[0]

            def on_step(step: int, loss: float) -> None:
                first[0] = False

            try:  # build the log-mel cache first, so the phases time training, not decoding
                train(
                    train_cfg(1), home=home, restart=True, should_stop=stop_after_first_step, on_step=on_step
                )
            except Cancelled:
                pass
            rep.log(f"training cache built in {time.perf_counter() - t:.0f} s; model {note}")
        results: dict[str, list[float]] = {}
        for ph in phases:
            if ph == "idle":
                results["idle (baseline)"] = measure(None, "idle", min(args.seconds, 10.0))
            elif ph == "indexing":
                torch.set_num_threads(threads_default)

                def index_job() -> None:
                    with Library(home) as lib:
                        lib.index(index_dir, loaded, should_stop=should_stop)

                results[f"indexing {len(index_files)} songs"] = measure(index_job, "indexing", 600.0)
            elif ph == "training":
                app_threads = max(1, cores - 1)
                torch.set_num_threads(threads_default)

                def app_training(threads: int = app_threads) -> None:
                    train(train_cfg(threads), home=home, restart=True, should_stop=should_stop)

                results[f"training, {app_threads} torch thread(s) (app)"] = measure(
                    app_training, "training (app threads)", args.seconds
                )
            elif ph == "training-default-threads":
                torch.set_num_threads(threads_default)
                results[f"training, {threads_default} torch threads (default)"] = measure(
                    lambda: train(train_cfg(None), home=home, restart=True, should_stop=should_stop),
                    "training (default threads)",
                    args.seconds,
                )
                torch.set_num_threads(threads_default)
            elif ph == "first-query":
                results.update(first_query_phases(args.query_songs, measure, rep))
        base = results.get("idle (baseline)")
        b99 = percentile(base, 99) if base else None
        for label, late in results.items():
            if not late:
                continue
            p50, p99, worst = percentile(late, 50), percentile(late, 99), max(late)
            is_job = not label.startswith("idle") and "(before)" not in label  # baselines have no goal
            rep.add(
                f"{label}: p99 lateness",
                p99,
                "ms",
                goal=f"<= {GOAL_P99_MS:g} ms" if is_job else "",
                baseline=f"idle p99 {b99:.1f} ms" if (b99 is not None and is_job) else "",
                ok=(p99 <= GOAL_P99_MS) if is_job else None,
                note=f"p50 {p50:.1f} ms, {len(late)} ticks",
            )
            rep.add(
                f"{label}: worst lateness",
                worst,
                "ms",
                goal=f"<= {GOAL_MAX_MS:g} ms" if is_job else "",
                baseline=f"idle worst {max(base):.1f} ms" if (base and is_job) else "",
                ok=(worst <= GOAL_MAX_MS) if is_job else None,
                note=f"{sum(x > GOAL_MAX_MS for x in late)} ticks over {GOAL_MAX_MS:g} ms",
            )
        rep.extra["lateness_ms"] = {k: v for k, v in results.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rep.finish(args.json)
    del app
    return 0


def first_query_phases(n: int, measure, rep: Report) -> dict[str, list[float]]:
    """The first query of an ``n``-song library: prepared on a worker (the app) vs on the GUI thread."""
    import numpy as np

    from musicsim_app.engine_jobs import Snapshot
    from musicsim_app.session import LibrarySession
    from musicsim_app.workers import JobRunner
    from trainer.library import Song
    from trainer.search_cache import prepare_search

    X = np.random.default_rng(0).normal(size=(n, 128)).astype(np.float32)
    songs = [
        Song(
            id=i,
            path=Path(f"/bench/a/{i}.ogg"),
            root=Path("/bench"),
            size=1,
            mtime=0.0,
            duration_s=1.0,
            title=str(i),
            artist="a",
            album="a",
            genre=None,
            error=None,
        )
        for i in range(n)
    ]
    out: dict[str, list[float]] = {}
    built: list = []
    t = time.perf_counter()
    out[f"first query, {n:,} songs, index built on the GUI thread (before)"] = measure(
        None,
        "first query (GUI thread)",
        600.0,
        on_gui=lambda: built.append(prepare_search(X, "Normalizer", "cosine")),
        until=lambda: bool(built),
    )
    rep.log(f"GUI-thread build: {time.perf_counter() - t:.1f} s")
    session = LibrarySession(Path(tempfile.mkdtemp(prefix="bench_heartbeat_home_")), JobRunner())
    session.model_refs = [
        type(
            "Ref", (), {"name": "m", "info": type("I", (), {"key": "m@bench", "arch": "musicnet-small"})()}
        )()
    ]
    session.model_name = "m"
    session.apply_snapshot(Snapshot(songs=songs, ids=np.arange(n), matrix=X, model_key="m@bench"))
    t = time.perf_counter()
    out[f"first query, {n:,} songs, the app (index built on a worker)"] = measure(
        None,
        "first query (app)",
        600.0,
        on_gui=lambda: session.set_query(0),
        until=lambda: bool(session.results),
    )
    rep.log(f"app: results after {time.perf_counter() - t:.1f} s")
    session.runner.stop_all()
    return out


if __name__ == "__main__":
    sys.exit(main())
