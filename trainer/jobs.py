"""The contract every long job follows: a progress callback and a should-stop check.

The engine knows nothing of Qt or tqdm; the GUI wraps these callables in signals, the CLI in
progress bars. Both are optional so plain Python calls stay short.
"""

from __future__ import annotations

from collections.abc import Callable

#: progress(done, total, message) -- called from the job's thread, must be cheap.
ProgressFn = Callable[[int, int, str], None]
#: should_stop() -> True asks the job to stop at the next safe point (raises Cancelled).
StopFn = Callable[[], bool]


def report(progress: ProgressFn | None, done: int, total: int, message: str = "") -> None:
    if progress is not None:
        progress(done, total, message)


def check_stop(should_stop: StopFn | None) -> None:
    from .errors import Cancelled

    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")
