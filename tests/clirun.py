"""Run the ``musicsim`` command line in-process and capture what a user would see."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from trainer.cli import main


def run_cli(*argv: object) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``musicsim ARGV`` (paths may be ``Path`` objects)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([os.fspath(a) if isinstance(a, Path) else str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    return rc, out.getvalue(), err.getvalue()
