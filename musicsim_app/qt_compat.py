"""A work-around for a reference-counting bug in the Qt binding, applied when the binding has it.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without owning a reference to it, so
every signal emitted from Python -- ours (job progress, 20 per second) and pyqtgraph's (every hover
and pan) -- takes one reference to ``True`` away.  Python 3.11 aborts the process once the count
reaches zero ("Fatal Python error: bool_dealloc: deallocating True or False"): in a long session
at any moment, in a short one when Python frees its objects at exit.  6.11.3 does not have the bug;
whether a later release fixes it is unknown, so rather than pin the binding the package checks the
one it runs on and, only if emitting loses a reference, adds the missing one after each emit.
Adding a reference to ``True`` or ``False`` too many is harmless: Python never frees them.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None

#: Emits of the probe signal: the check counts a bug when at least half of them lost a reference.
PROBE_EMITS = 8


def bool_references() -> int:
    return sys.getrefcount(True) + sys.getrefcount(False)


def loses_bool_references(call: Callable[[], Any], times: int = PROBE_EMITS) -> bool:
    """Whether ``call()`` leaves ``True``/``False`` with fewer references than before it."""
    before = bool_references()
    for _ in range(times):
        call()
    return before - bool_references() >= times // 2


def owning_result(emit: Callable[..., Any]) -> Callable[..., Any]:
    """``emit`` that adds the reference to its result that the binding forgot to add."""

    def emit_owning_result(self, *args: Any) -> Any:
        result = emit(self, *args)
        _incref(result)
        return result

    emit_owning_result.__doc__ = emit.__doc__
    emit_owning_result.musicsim_owning_result = True  # type: ignore[attr-defined]
    return emit_owning_result


def keep_signal_emits_from_losing_references() -> bool:
    """Patch ``SignalInstance.emit`` if emitting loses a reference; True when it was patched."""
    from PySide6.QtCore import QObject, Signal, SignalInstance

    if getattr(SignalInstance.emit, "musicsim_owning_result", False):
        return True

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    if not loses_bool_references(probe.ping.emit):
        return False
    SignalInstance.emit = owning_result(SignalInstance.emit)
    return True
