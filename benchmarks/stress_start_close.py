#!/usr/bin/env python3
"""Start the app on the demo library, query a song, close it — many times, on a loaded machine.

Counts the runs that did not end cleanly (a non-zero exit, "Fatal Python error", a segfault).
Three crashes were found this way (docs/PERFORMANCE.md, "Start-up and exit"): the torch warm-up on
a reused Qt pool thread (segfault in ``take_gil``, 5 of 8 runs under xcb before the fix, 0 of 10
after), a task outliving the exit wait, and PySide6 6.12.0's reference counting.  Busy-loop
processes stand in for a loaded laptop; each run gets a new home, so the start is a first launch.

    python benchmarks/stress_start_close.py [--runs 10] [--load 2] [--close-after 2.5]

Where ``xvfb-run`` is installed (Debian: apt-get install xvfb) each run gets its own X server and
the real xcb platform, where the warm-up crash showed; elsewhere the offscreen platform.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RUN = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

def window():
    return next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")

def poll():
    w = window()
    if len(w.session.embeddings()[0]) and not w.session.busy():
        song = w.session.songs[0]
        w.library_page.library_view.select_song(song.id)
        w.library_page.library_view.query_selected()
        QTimer.singleShot(int(float(sys.argv[2]) * 1000), w.close)
    else:
        QTimer.singleShot(50, poll)

app = QApplication(sys.argv[:1])
QTimer.singleShot(0, poll)
from musicsim_app.app import main
sys.exit(main(["--home", sys.argv[1]]))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--load", type=int, default=2, help="busy-loop processes running meanwhile")
    p.add_argument("--close-after", type=float, default=2.5, help="seconds from the query to the close")
    args = p.parse_args()

    xvfb = shutil.which("xvfb-run")
    prefix = [xvfb, "-a", "-s", "-screen 0 1600x1000x24"] if xvfb else []
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb" if xvfb else "offscreen", "PYTHONFAULTHANDLER": "1"}
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    failed = []
    try:
        for i in range(args.runs):
            with tempfile.TemporaryDirectory() as home:
                done = subprocess.run(
                    [*prefix, sys.executable, "-c", RUN, home, str(args.close_after)],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
            bad = done.returncode != 0 or "Fatal Python error" in done.stderr
            print(f"run {i + 1}: exit {done.returncode}{'  <- crashed' if bad else ''}", flush=True)
            if bad:
                failed.append(done.stderr[-1500:])
    finally:
        for proc in load:
            proc.kill()
    print(
        f"\n{len(failed)} of {args.runs} runs crashed "
        f"({'xcb under xvfb-run' if xvfb else 'offscreen'}, {args.load} busy processes)"
    )
    print(
        f"command: python benchmarks/{Path(__file__).name} --runs {args.runs} --load {args.load} "
        f"--close-after {args.close_after}"
    )
    for text in failed[:1]:
        print("\nfirst crash, end of its stderr:\n" + text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
