"""Check the Qt binding for the reference-counting bugs of PySide6 6.12.0; mend what can be mended.

PySide6 6.12.0 returns ``True`` from ``SignalInstance.emit`` and ``None`` from methods without a
result (``QLabel.setText``, ``QProgressBar.setValue``, …) without owning a reference to them, so
every such call takes a reference away.  Python 3.11 aborts once a count reaches zero ("Fatal
Python error: bool_dealloc: deallocating True or False"): mostly when Python frees its objects
at exit, in a long session at any moment.  6.11.3 has neither bug and pyproject.toml excludes
6.12.0, but an app installed beside a system or conda PySide may still run on it.

So the app checks the binding it runs on.  The emit bug, by far the most frequent call (job
progress, pyqtgraph's hover and pan signals), is mended: after each emit the missing reference is
added back — a reference to ``True`` or ``False`` too many is harmless, Python never frees them.
The ``None`` bug is in every generated method and cannot be mended from Python; the window says
which version to install instead.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None

#: Calls per check: a bug is counted when at least half of them lost a reference.
PROBE_CALLS = 8
#: The release known to have neither bug, for the message to the user.
KNOWN_GOOD = "6.11.3"

_problems: list[str] | None = None


def loses_references(call: Callable[[], Any], obj: object, times: int = PROBE_CALLS) -> bool:
    """Whether ``call()`` leaves ``obj`` with fewer references than before it."""
    before = sys.getrefcount(obj)
    for _ in range(times):
        call()
    return before - sys.getrefcount(obj) >= times // 2


def owning_result(emit: Callable[..., Any]) -> Callable[..., Any]:
    """``emit`` that adds the reference to its result that the binding forgot to add."""

    def emit_owning_result(self, *args: Any) -> Any:
        result = emit(self, *args)
        _incref(result)
        return result

    emit_owning_result.__doc__ = emit.__doc__
    return emit_owning_result


def check_binding() -> list[str]:
    """Check the binding once (later calls return the first answer): mend the emit bug, and
    return a short description of each bug found (empty for a sound binding)."""
    global _problems
    if _problems is not None:
        return _problems
    from PySide6.QtCore import QObject, Signal, SignalInstance

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    problems = []
    if loses_references(probe.ping.emit, True):
        SignalInstance.emit = owning_result(SignalInstance.emit)
        problems.append("signal emits lose a reference to True (mended)")
    if loses_references(lambda: probe.setObjectName("probe"), None):
        problems.append("methods without a result lose a reference to None (cannot be mended)")
    _problems = problems
    return problems


def binding_warning() -> str | None:
    """One sentence for the user when the binding has a bug that cannot be mended, else None."""
    if not any("cannot be mended" in p for p in check_binding()):
        return None
    from PySide6 import __version__ as version

    return (
        f"PySide6 {version} has a reference-counting bug that can crash MusicSim; install "
        f"{KNOWN_GOOD}: pip install PySide6-Essentials=={KNOWN_GOOD}"
    )
