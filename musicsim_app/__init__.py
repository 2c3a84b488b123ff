"""MusicSim desktop app (PySide6 + pyqtgraph).

The app owns no ML: every model, distance, index and benchmark lives in ``trainer``; this
package shows them, runs the long ones on worker threads and plays audio.
"""

__all__ = ["main"]


def main(argv=None, **kwargs) -> int:  # re-exported lazily so importing the package stays cheap
    from .app import main as _main

    return _main(argv, **kwargs)
