"""Signal emits must not take references to True/False away (PySide6 6.12.0 did: Python aborted
with "bool_dealloc" mid-session or at exit).  The binding installed may or may not have the bug,
so the compensation is also checked against a stand-in emit that has it."""

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

import musicsim_app  # noqa: F401  (applies the work-around on import, where it is needed)
from musicsim_app.qt_compat import bool_references, loses_bool_references, owning_result

_decref = ctypes.pythonapi.Py_DecRef
_decref.argtypes = [ctypes.py_object]
_decref.restype = None


class _Emitter(QObject):
    number = Signal(int)
    flag = Signal(bool)
    anything = Signal(object)


def test_emitting_signals_keeps_the_references_to_true_and_false(qapp):
    emitter, received = _Emitter(), []
    for signal in (emitter.number, emitter.flag, emitter.anything):
        signal.connect(received.append)
    before = bool_references()
    for i in range(2000):
        emitter.number.emit(i)
        emitter.flag.emit(i % 2 == 0)
        emitter.anything.emit(True)
    received.clear()
    assert bool_references() >= before
    assert not loses_bool_references(lambda: emitter.number.emit(1))


def _buggy_emit(self, *args):
    """What 6.12.0's emit does: return True without owning a reference to it."""
    _decref(True)
    return True


def test_a_stand_in_for_the_buggy_emit_is_detected_and_compensated():
    assert loses_bool_references(lambda: _buggy_emit(None))
    fixed = owning_result(_buggy_emit)
    assert not loses_bool_references(lambda: fixed(None))
    assert fixed(None, 1) is True
    before = sys.getrefcount(True)
    for _ in range(1000):
        fixed(None, 1)
    after = sys.getrefcount(True)
    assert after == before
