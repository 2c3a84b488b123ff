"""The Qt binding must not take references to True/False/None away (PySide6 6.12.0 did: Python
aborted with "bool_dealloc" at exit or mid-session).  The installed binding may or may not have
the bugs, so the check and the mend are also run against stand-ins that have them."""

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

import musicsim_app  # noqa: F401  (checks the binding on import and mends emits where needed)
from musicsim_app import qt_compat
from musicsim_app.qt_compat import loses_references, owning_result

_decref, _incref = ctypes.pythonapi.Py_DecRef, ctypes.pythonapi.Py_IncRef
for _f in (_decref, _incref):
    _f.argtypes, _f.restype = [ctypes.py_object], None


class _Taken:
    """References the stand-ins below take, given back when a test ends (this process lives on)."""

    def __init__(self) -> None:
        self.counts: dict[int, tuple[object, int]] = {}

    def take(self, obj: object) -> None:
        _decref(obj)
        held = self.counts.get(id(obj), (obj, 0))[1]
        self.counts[id(obj)] = (obj, held + 1)

    def give_back(self) -> None:
        for obj, n in self.counts.values():
            for _ in range(n):
                _incref(obj)
        self.counts.clear()


_taken = _Taken()


def teardown_function():
    _taken.give_back()


class _Emitter(QObject):
    number = Signal(int)
    flag = Signal(bool)
    anything = Signal(object)


def test_emitting_signals_keeps_the_references_to_true_and_false(qapp):
    emitter, received = _Emitter(), []
    for signal in (emitter.number, emitter.flag, emitter.anything):
        signal.connect(received.append)
    before = sys.getrefcount(True) + sys.getrefcount(False)
    for i in range(2000):
        emitter.number.emit(i)
        emitter.flag.emit(i % 2 == 0)
        emitter.anything.emit(True)
    received.clear()
    assert sys.getrefcount(True) + sys.getrefcount(False) >= before
    assert not loses_references(lambda: emitter.number.emit(1), True)


def _buggy_emit(self, *args):
    """What 6.12.0's emit does: return True without owning a reference to it."""
    _taken.take(True)
    return True


def test_a_stand_in_for_the_buggy_emit_is_detected_and_mended():
    assert loses_references(lambda: _buggy_emit(None), True)
    fixed = owning_result(_buggy_emit)
    assert not loses_references(lambda: fixed(None), True)
    assert fixed(None, 1) is True
    before = sys.getrefcount(True)
    for _ in range(1000):
        fixed(None, 1)
    after = sys.getrefcount(True)
    assert after == before


def test_a_binding_that_loses_none_gets_a_warning_naming_a_good_version(monkeypatch):
    monkeypatch.setattr(qt_compat, "_problems", None)

    def leaky_set_object_name(self, name):  # what 6.12.0's generated methods do with None
        _taken.take(None)

    monkeypatch.setattr(QObject, "setObjectName", leaky_set_object_name)
    warning = qt_compat.binding_warning()
    assert warning is not None and f"PySide6-Essentials=={qt_compat.KNOWN_GOOD}" in warning
    assert any("None" in p for p in qt_compat.check_binding())


def test_a_sound_binding_gets_no_warning(monkeypatch):
    monkeypatch.setattr(qt_compat, "_problems", [])
    assert qt_compat.binding_warning() is None
