"""``musicsim app FOLDER`` as a user types it: the command line hands the folder to the window.

Runs in a child process: the app's ``exec`` loop, quit and crash hook must not leak into the other
GUI tests' QApplication.
"""

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from trainer.cli import main

def look_and_close():
    window = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
    print("ROOTS", [str(r) for r in window.session.roots], flush=True)
    window.close()

app = QApplication(sys.argv[:1])
QTimer.singleShot(2000, look_and_close)
sys.exit(main(["--home", sys.argv[1], "app", sys.argv[2]]))
"""


def test_musicsim_app_folder_opens_that_folder(music_library, home):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(home), str(music_library)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"ROOTS {[str(Path(music_library).resolve())]}" in done.stdout


CLOSE_WHILE_A_TASK_RUNS = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import musicsim_app.workers as workers
from musicsim_app.app import main

task_seconds, wait_ms = float(sys.argv[3]), int(sys.argv[4])
workers.SHUTDOWN_WAIT_MS = wait_ms
state = []

def slow_task():
    time.sleep(task_seconds)
    state.append("task finished")

def start_task_and_close():
    workers.run_task(slow_task, lambda _r: None)
    next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow").close()

app = QApplication(sys.argv[:1])
QTimer.singleShot(500, start_task_and_close)
code = main(["--home", sys.argv[1], "--library", sys.argv[2]])
print("AT RETURN", state, flush=True)
sys.exit(code)
"""


def close_while_a_task_runs(home: Path, library: Path, task_seconds: float, wait_ms: int):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    args = [str(home), str(library), str(task_seconds), str(wait_ms)]
    return subprocess.run(
        [sys.executable, "-c", CLOSE_WHILE_A_TASK_RUNS, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_closing_waits_for_a_slow_task_before_python_exits(music_library, home):
    """Python must not be finalised under a running task (it broke the exit with errors from the
    task's thread); the torch warm-up's imports outlasted the old 5-s wait on a loaded machine.
    Closing now waits for it."""
    done = close_while_a_task_runs(home, music_library, task_seconds=6.0, wait_ms=60_000)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "AT RETURN ['task finished']" in done.stdout, done.stdout[-2000:]
    assert "Fatal Python error" not in done.stderr and "Error calling Python" not in done.stderr


def test_a_task_that_never_ends_does_not_crash_the_exit(music_library, home):
    """When the wait runs out, the app leaves at once (settings saved, log flushed) instead of
    finalising Python under the running task."""
    done = close_while_a_task_runs(home, music_library, task_seconds=3.0, wait_ms=200)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "AT RETURN" not in done.stdout
    assert "Fatal Python error" not in done.stderr and "Error calling Python" not in done.stderr
    log_text = (Path(home) / "logs" / "gui.log").read_text(encoding="utf-8")
    assert "quitting with background work still running" in log_text
    settings = (Path(home) / "gui.ini").read_text(encoding="utf-8")
    assert Path(music_library).name in settings  # the library root was saved before leaving


def test_without_a_display_the_app_says_so_in_one_line_and_how_to_run_headless(home):
    """Qt alone aborts with a hint about reinstalling its plugins; we say what is missing and what
    to do instead, and exit 2 without a traceback or a core dump."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-m", "trainer.cli", "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicsim: error: the window needs a display"), done.stderr
    assert "xvfb-run musicsim" in lines[0] and "QT_QPA_PLATFORM=offscreen" in lines[0]


def test_display_problem_names_only_a_missing_display():
    from musicsim_app.app import display_problem

    assert display_problem({}, "linux") is not None
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") is not None  # xcb needs a DISPLAY
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None


def test_the_app_s_own_bad_arguments_give_one_error_line():
    done = subprocess.run(
        [sys.executable, "-m", "musicsim_app", "--audio", "loud"],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("musicsim: error: argument --audio: invalid choice"), done.stderr
