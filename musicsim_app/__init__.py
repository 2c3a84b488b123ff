"""MusicSim desktop app (PySide6 + pyqtgraph).

The app owns no ML: every model, distance, index and benchmark lives in ``trainer``; this
package shows them, runs the long ones on worker threads and plays audio.
"""

from .qt_compat import check_binding

__all__ = ["main"]

# Before any module of the app or pyqtgraph emits a signal: with PySide6 6.12.0 every emit would
# take a reference to True away until Python aborts (see qt_compat).
check_binding()


def version() -> str:
    """The installed MusicSim's version (the package metadata; the engine's when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("musicsim")
    except PackageNotFoundError:
        from trainer import __version__

        return __version__


def main(argv=None, **kwargs) -> int:  # re-exported lazily so importing the package stays cheap
    from .app import main as _main

    return _main(argv, **kwargs)
