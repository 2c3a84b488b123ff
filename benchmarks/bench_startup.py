#!/usr/bin/env python3
"""First launch: how long until the window is up, the demo listed and a query answered.

Each trial starts the real app (``musicsim_app.app.main``, as ``musicsim`` does) in a fresh
interpreter with a new, empty home, Qt offscreen, and records from process start:

* ``window``   -- the window is built and the event loop starts (what the user sees appear);
* ``ready``    -- the library's songs and the model's embeddings are loaded and no job runs;
* ``query``    -- a query double-clicked ``--click-after`` seconds after ``ready``: the time the
                  GUI thread spends in it (the first query imports scikit-learn's scalers; the
                  app imports them on a worker once the songs are shown).

Variants: the shipped demo (with its precomputed default-model embeddings) and, as the baseline
in the same run, a copy of the demo without them (indexed by decoding).  Also measured: ``import
torch`` alone in a fresh interpreter, which the window used to wait for.

usage: python benchmarks/bench_startup.py [--repeat 3] [--click-after 1.5]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, Report, base_parser, median  # noqa: E402

GOAL_WINDOW_S = 2.0
GOAL_READY_S = 3.0


def child(library: str | None, click_after: float) -> None:
    """Run the app, print one JSON line of timings, quit."""
    t0 = time.perf_counter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    out: dict[str, float] = {}
    original_exec = QApplication.exec

    def window():
        return next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")

    def poll() -> None:
        s = window().session
        now = time.perf_counter() - t0
        if "ready" not in out and len(s.embeddings()[0]) and not s.busy():
            out["ready"] = now
        if "ready" in out and "query" not in out and now >= out["ready"] + click_after:
            view = window().library_page.library_view
            view.select_song(s.songs[0].id)
            t = time.perf_counter()
            view.query_selected()
            out["query"] = time.perf_counter() - t
            out["results"] = float(len(s.results))
            print(json.dumps(out), flush=True)
            QApplication.instance().quit()
            return
        QTimer.singleShot(10, poll)

    def timed_exec(self) -> int:
        out["window"] = time.perf_counter() - t0
        QTimer.singleShot(0, poll)
        return original_exec()

    QApplication.exec = timed_exec
    from musicsim_app.app import main

    main(["--audio", "null"] + (["--library", library] if library else []))


def run_child(library: Path | None, click_after: float, home: Path) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MUSICSIM_HOME": str(home)}
    args = [sys.executable, __file__, "--child", str(library or ""), str(click_after)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"app run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def import_torch_s() -> float:
    code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(proc.stdout)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2] or None, float(sys.argv[3]))
        return 0
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--click-after", type=float, default=1.5, help="seconds between 'ready' and the query")
    args = p.parse_args()

    from trainer.paths import demo_library_dir
    from trainer.precomputed import FILE_NAME

    rep = Report("bench_startup: first launch on the demo library", args)
    base = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    try:
        bare = shutil.copytree(
            demo_library_dir(), base / "demo-without-embeddings", ignore=shutil.ignore_patterns(FILE_NAME)
        )
        runs: dict[str, list[dict[str, float]]] = {"shipped": [], "without": []}
        for i in range(args.repeat):
            for variant, library in (("shipped", None), ("without", bare)):
                runs[variant].append(run_child(library, args.click_after, base / f"home-{variant}-{i}"))
        torch_s = median([import_torch_s() for _ in range(args.repeat)])

        def med(variant: str, key: str) -> float:
            return median([r[key] for r in runs[variant]])

        w, r, q = med("shipped", "window"), med("shipped", "ready"), med("shipped", "query")
        w0, r0 = med("without", "window"), med("without", "ready")
        rep.add(
            "window up",
            w,
            "s",
            goal=f"< {GOAL_WINDOW_S:g} s",
            baseline=f"import torch alone {torch_s:.2f} s",
            ok=w < GOAL_WINDOW_S,
            note="process start to the event loop; torch is imported later, on a worker",
        )
        rep.add(
            "demo listed and embedded (shipped embeddings)",
            r,
            "s",
            goal=f"< {GOAL_READY_S:g} s",
            baseline=f"without them {r0:.2f} s",
            ratio=f"{r0 / r:.1f}× sooner",
            ok=r < GOAL_READY_S,
        )
        rep.add("window up (demo without embeddings)", w0, "s")
        rep.add(
            f"first query, {args.click_after:g} s after ready (GUI thread)",
            q,
            "s",
            note=f"{int(med('shipped', 'results'))} results",
        )
        rep.extra.update({"runs": runs, "import_torch_s": torch_s})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
