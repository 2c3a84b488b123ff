"""Start the MusicSim window: ``python -m musicsim_app`` or ``musicsim`` without arguments."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import NoReturn

from .qt_compat import KNOWN_GOOD, check_binding

log = logging.getLogger("musicsim_app")


class _Parser(argparse.ArgumentParser):
    """Errors as one ``musicsim: error: …`` line and exit 2, as the ``musicsim`` command's."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"musicsim: error: {message} (see '{self.prog} --help')\n")


def display_problem(environ=None, platform: str = sys.platform) -> str | None:
    """Why Qt cannot open a window here, in one line with what to do instead; ``None`` when it can.

    On Linux and the BSDs a window needs an X11 or Wayland display.  Without one Qt aborts with a
    hint about reinstalling its platform plugins, which is not the problem.
    """
    env = os.environ if environ is None else environ
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    wanted = [
        name.split(":")[0].strip() for name in env.get("QT_QPA_PLATFORM", "").split(";") if name.strip()
    ]
    if any(not name.startswith(("xcb", "wayland")) for name in wanted):  # offscreen, vnc, eglfs…
        return None
    return (
        "the window needs a display, and there is none (DISPLAY and WAYLAND_DISPLAY are not set): "
        "run it in a desktop session, or headless with 'xvfb-run musicsim' or "
        "'QT_QPA_PLATFORM=offscreen musicsim' (no window to see); the commands in "
        "'musicsim --help' need no display"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from trainer.config import DEVICE_CHOICES

    p = _Parser(prog="musicsim-app", description="MusicSim desktop app")
    p.add_argument(
        "--home", type=Path, help="MusicSim home folder (default: MUSICSIM_HOME or the user data dir)"
    )
    p.add_argument("--library", type=Path, help="open this music folder instead of the last library")
    p.add_argument(
        "--audio",
        choices=("auto", "null"),
        default="auto",
        help="audio output: sounddevice when available, or silent 'null'",
    )
    p.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="compute device for indexing and training",
    )
    return p.parse_args(argv)


def setup_logging(home: Path) -> Path:
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "gui.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def install_excepthook(log_path: Path) -> None:
    """Unexpected errors become a dialog plus a log entry, never a bare traceback on the console."""
    from PySide6.QtCore import QThread, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def show(text: str, details: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, "MusicSim: unexpected error", text)
        box.setInformativeText(f"The details were written to {log_path}.")
        box.setDetailedText(details)
        box.exec()

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unhandled exception:\n%s", details)
        app = QApplication.instance()
        if app is None:
            return
        text = f"{exc_type.__name__}: {exc}"
        if QThread.currentThread() is app.thread():
            show(text, details)
        else:
            QTimer.singleShot(0, app, lambda: show(text, details))

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)


def main(
    argv: list[str] | None = None, *, library: str | Path | None = None, home: str | Path | None = None
) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from trainer.errors import MusicSimError
    from trainer.paths import home_dir

    try:
        home_path = home_dir(home if home is not None else args.home)
    except MusicSimError as exc:
        print(f"musicsim: {exc}", file=sys.stderr)
        return 2
    try:
        log_path = setup_logging(home_path)
    except OSError as exc:  # a read-only home: the index, models and settings could not be written
        print(
            f"musicsim: error: cannot write to the MusicSim home '{home_path}' ({exc.strerror or exc}); "
            "make it writable or pick another with --home or MUSICSIM_HOME",
            file=sys.stderr,
        )
        return 2
    for problem in check_binding():  # checked on import already; here it is logged
        from PySide6 import __version__ as pyside_version

        log.warning("PySide6 %s: %s (%s does not have this bug)", pyside_version, problem, KNOWN_GOOD)

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    problem = None if QApplication.instance() is not None else display_problem()
    if problem:
        log.error("no display: %s", problem)
        print(f"musicsim: error: {problem}", file=sys.stderr)
        return 2
    QCoreApplication.setOrganizationName("MusicSim")
    QCoreApplication.setApplicationName("MusicSim")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from .theme import apply_dark_theme

    apply_dark_theme(app)
    install_excepthook(log_path)
    from .main_window import MainWindow

    window = MainWindow(
        home_path, library=Path(library) if library else args.library, audio=args.audio, device=args.device
    )
    window.show()
    log.info("MusicSim started (home %s)", home_path)
    code = int(app.exec())
    if not window.shut_down():
        # A job or task outlived its wait (15 s for jobs, a minute for tasks).  Finalising Python
        # under a running worker crashes the process, so leave at once: the settings are saved
        # and the index commits as it goes, so nothing is lost.
        log.error("quitting with background work still running")
        logging.shutdown()
        os._exit(code)
    return code
