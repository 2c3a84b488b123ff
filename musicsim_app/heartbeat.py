"""Measure event-loop stalls: a 10 ms QTimer that records how late each tick arrives.

A responsive GUI services the timer within a few milliseconds; a long stall means something ran
on the GUI thread (or held the GIL) for too long.  The training page shows ``max_lateness_ms``
and the tests assert on it.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal


class Heartbeat(QObject):
    """Ticks every ``interval_ms`` and records lateness (ms) of each tick."""

    stalled = Signal(float)  #: emitted with the lateness (ms) when a tick is later than ``warn_ms``

    def __init__(self, interval_ms: int = 10, *, warn_ms: float = 100.0, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.warn_ms = warn_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)
        self._last = 0.0
        self.reset()

    def reset(self) -> None:
        self.max_lateness_ms = 0.0
        self.ticks = 0
        self._total_lateness = 0.0
        self._last = time.perf_counter()

    @property
    def mean_lateness_ms(self) -> float:
        return self._total_lateness / self.ticks if self.ticks else 0.0

    def start(self) -> None:
        self.reset()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def is_running(self) -> bool:
        return self._timer.isActive()

    def _on_tick(self) -> None:
        now = time.perf_counter()
        late = max(0.0, (now - self._last) * 1000.0 - self.interval_ms)
        self._last = now
        self.ticks += 1
        self._total_lateness += late
        if late > self.max_lateness_ms:
            self.max_lateness_ms = late
        if late > self.warn_ms:
            self.stalled.emit(late)
