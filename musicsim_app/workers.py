"""Run engine callables off the GUI thread and report back through signals.

``Worker`` wraps one long engine call (scan, index, projection, training, benchmark): it passes
``progress`` and ``should_stop`` to the callable, emits ``progress(done, total, message)``,
``finished(result)`` or ``failed(message)`` with plain data and never touches a widget.
``JobRunner`` runs each worker on its own QThread, keeps it alive while it runs and stops and
waits for all of them when the window closes; ``JobQueue`` runs the jobs that must not overlap
one after the other.  ``run_task`` is the short one-off variant
(decode a track, compute a spectrogram, warm torch up) on a pool of Python threads.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from trainer.errors import Cancelled, MusicSimError

log = logging.getLogger(__name__)

#: progress signals are throttled to this interval (the last one of a job always goes through).
PROGRESS_INTERVAL_S = 0.05


def error_text(exc: BaseException) -> str:
    """One line for the user: our own errors carry their message, others their type too."""
    if isinstance(exc, MusicSimError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class Worker(QObject):
    """Runs ``fn(*args, progress=..., should_stop=..., **kwargs)`` once, on a ``JobRunner`` thread.

    The worker object itself stays on the GUI thread (it is never moved), so its signals reach
    any connected callable -- bound method or lambda -- on the GUI thread.

    Set ``pass_progress=False`` for callables that do not take the two keyword arguments.
    ``event(name, payload)`` carries job-specific data (training steps, epochs) from inside
    the callable: with ``pass_emit=True`` the callable also gets ``emit=worker.emit_event``.
    """

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    event = Signal(str, object)
    done = Signal()  #: always emitted last, whatever the outcome

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        pass_progress: bool = True,
        pass_emit: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.name = name or getattr(fn, "__name__", "job")
        self._fn = fn
        self._args = args
        self._kwargs = dict(kwargs, emit=self.emit_event) if pass_emit else kwargs
        self._pass_progress = pass_progress
        self._stop = False
        self._last_emit = 0.0
        self.running = False
        self.result: Any = None
        self.error: str | None = None

    # -- called from any thread -------------------------------------------------------------
    def cancel(self) -> None:
        self._stop = True

    def is_cancelled(self) -> bool:
        return self._stop

    def emit_event(self, name: str, payload: Any = None) -> None:
        self.event.emit(name, payload)

    def _report(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if done >= total or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.progress.emit(int(done), int(total), str(message))

    # -- runs on the worker thread ----------------------------------------------------------
    def run(self) -> None:
        self.running = True
        try:
            if self._pass_progress:
                self.result = self._fn(
                    *self._args, progress=self._report, should_stop=self.is_cancelled, **self._kwargs
                )
            else:
                self.result = self._fn(*self._args, **self._kwargs)
            if self._stop:
                raise Cancelled("cancelled")
        except Cancelled:
            self.error = "cancelled"
            self.cancelled.emit()
        except MusicSimError as exc:
            self.error = error_text(exc)
            log.info("%s failed: %s", self.name, self.error)
            self.failed.emit(self.error)
        except Exception as exc:  # noqa: BLE001 - shown to the user, logged with the traceback
            self.error = error_text(exc)
            log.error("%s crashed:\n%s", self.name, traceback.format_exc())
            self.failed.emit(self.error)
        else:
            self.finished.emit(self.result)
        finally:
            self.running = False
            self.done.emit()


class _JobThread(QThread):
    """Runs one worker's ``run`` without moving the worker: the worker stays a GUI-thread object,
    so every slot connected to its signals (lambdas included) is delivered on the GUI thread."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker
        self.setObjectName(f"job-{worker.name}")

    def run(self) -> None:
        self.worker.run()


class JobRunner(QObject):
    """Owns the threads of running workers; ``stop_all`` cancels and joins them."""

    started = Signal(object)  #: the Worker
    ended = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[Worker, QThread] = {}
        self._closed = False

    def start(self, worker: Worker) -> Worker:
        """Run ``worker`` on a new thread; after ``stop_all`` (the window is closing) it is cancelled
        instead, since a thread started then would still run when Qt tears down and abort the app."""
        if self._closed:
            log.info("not starting %s: the app is closing", worker.name)
            worker.cancel()
            return worker
        thread = _JobThread(worker)
        thread.finished.connect(self._on_thread_finished)
        self._jobs[worker] = thread
        thread.start()
        self.started.emit(worker)
        return worker

    def running(self) -> list[Worker]:
        return list(self._jobs)

    def is_busy(self) -> bool:
        return bool(self._jobs)

    @Slot()
    def _on_thread_finished(self) -> None:
        for worker, thread in list(self._jobs.items()):
            if thread.isFinished():
                del self._jobs[worker]
                thread.deleteLater()
                self.ended.emit(worker)

    def stop_all(self, timeout_ms: int = 10000) -> bool:
        """Cancel every job, refuse new ones, and wait for the threads; True when all stopped in time."""
        self._closed = True
        for worker in self._jobs:
            worker.cancel()
        ok = True
        for worker, thread in list(self._jobs.items()):
            if not thread.wait(timeout_ms):
                log.warning("job %s did not stop within %d ms", worker.name, timeout_ms)
                ok = False
        self._on_thread_finished()
        return ok


_OnDone = Callable[[Any], None] | None
_OnEnd = Callable[[], None] | None


class JobQueue(QObject):
    """Long jobs that must not overlap (the library's scans and indexing, search preparation), run
    one after the other on a ``JobRunner``.  Says what fails or is cancelled, with the job's label."""

    started = Signal(object, str)  #: Worker, label
    failed = Signal(str)  #: "<label> failed: <why>"
    cancelled = Signal(str)  #: "<label>: cancelled"

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        # (label, fn, args, kwargs, on_done, on_end) of the jobs waiting for the one running
        self._waiting: list[tuple[str, Callable[..., Any], tuple, dict, _OnDone, _OnEnd]] = []
        self._current: Worker | None = None

    def enqueue(
        self,
        label: str,
        fn: Callable[..., Any],
        args: tuple = (),
        kwargs: dict | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        """Queue a job; ``on_done(result)`` when it succeeds, ``on_end()`` whatever the outcome
        (after ``on_done``; also when it is cancelled before it starts)."""
        self._waiting.append((label, fn, args, kwargs or {}, on_done, on_end))
        self._start_next()

    def busy(self) -> bool:
        return self._current is not None

    def cancel_all(self) -> None:
        """Drop the waiting jobs and cancel the running one."""
        for *_, on_end in self._waiting:
            if on_end is not None:
                on_end()
        self._waiting.clear()
        if self._current is not None:
            self._current.cancel()

    def _start_next(self) -> None:
        if self._current is not None or not self._waiting:
            return
        label, fn, args, kwargs, on_done, on_end = self._waiting.pop(0)
        worker = Worker(fn, *args, name=label, **kwargs)
        self._current = worker
        if on_done is not None:
            worker.finished.connect(on_done)
        if on_end is not None:
            worker.done.connect(on_end)
        worker.failed.connect(lambda msg, label=label: self.failed.emit(f"{label} failed: {msg}"))
        worker.cancelled.connect(lambda label=label: self.cancelled.emit(f"{label}: cancelled"))
        worker.done.connect(self._on_job_done)
        self.runner.start(worker)
        self.started.emit(worker, label)

    def _on_job_done(self) -> None:
        self._current = None
        self._start_next()


class _TaskSignals(QObject):
    finished = Signal(object)
    failed = Signal(str)


def _run_task(fn: Callable[[], Any], signals: _TaskSignals) -> None:
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001
        if not isinstance(exc, MusicSimError):
            log.error("task crashed:\n%s", traceback.format_exc())
        signals.failed.emit(error_text(exc))
    else:
        signals.finished.emit(result)


#: Short tasks run on Python's threads, not on QThreadPool's.  PySide enters and leaves Python
#: once per task on a pool thread that Qt reuses, and torch (pybind11) keeps per-thread Python
#: state across such entries: the torch warm-up on a reused Qt pool thread segfaulted in
#: ``take_gil`` in about half the starts on a loaded machine (5 of 8; 0 of 18 on Python threads,
#: ``benchmarks/stress_start_close.py``).  A Python thread keeps one thread state for its life.
_pool = ThreadPoolExecutor(max_workers=max(2, QThread.idealThreadCount()), thread_name_prefix="musicsim-task")
_running: set[Future] = set()
_running_lock = threading.Lock()


_live_tasks: set[_TaskSignals] = set()


def run_task(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[str], None] | None = None,
    *,
    owner: QObject | None = None,
) -> None:
    """Run a short job on the global pool; ``on_done``/``on_error`` run on the GUI thread, and not at
    all when ``owner`` (the object they touch) was deleted meanwhile, e.g. a window closed early."""
    signals = _TaskSignals()  # created on the GUI thread, so its slots are delivered there
    _live_tasks.add(signals)

    def owner_gone() -> bool:
        return owner is not None and not shiboken6.isValid(owner)

    def finish(result: Any) -> None:
        _live_tasks.discard(signals)
        if not owner_gone():
            on_done(result)

    def fail(message: str) -> None:
        _live_tasks.discard(signals)
        if owner_gone():
            return
        if on_error is not None:
            on_error(message)
        else:
            log.warning("task failed: %s", message)

    signals.finished.connect(finish)
    signals.failed.connect(fail)
    future = _pool.submit(_run_task, fn, signals)
    with _running_lock:
        _running.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _running_lock:
        _running.discard(future)


#: How long quitting waits for pool tasks.  They are short (a decode, a spectrogram, the torch
#: warm-up), but on a loaded machine the warm-up's imports alone can take well over 5 s, and
#: Python must not be finalised while one of them runs: that crashed inside torch on exit.
SHUTDOWN_WAIT_MS = 60_000


def wait_for_tasks(timeout_ms: int | None = None) -> bool:
    """Block until the tasks started so far have finished; False when ``timeout_ms`` (by default
    ``SHUTDOWN_WAIT_MS``) ran out.  Their results still reach the GUI thread as queued signals."""
    with _running_lock:
        running = set(_running)
    timeout_s = (SHUTDOWN_WAIT_MS if timeout_ms is None else timeout_ms) / 1000
    return not concurrent.futures.wait(running, timeout=timeout_s).not_done
