import time

from musicsim_app.heartbeat import Heartbeat
from musicsim_app.workers import JobRunner, Worker, run_task
from trainer.errors import Cancelled, ParameterError


def test_heartbeat_measures_a_stall(qtbot):
    hb = Heartbeat(10)
    hb.start()
    qtbot.waitUntil(lambda: hb.ticks >= 3, timeout=2000)
    time.sleep(0.12)  # deliberately block the GUI thread: that is the stall being measured
    qtbot.waitUntil(lambda: hb.ticks >= 5, timeout=2000)
    hb.stop()
    assert hb.max_lateness_ms >= 80


def counting_job(n, *, progress, should_stop):
    for i in range(n):
        if should_stop():
            raise Cancelled("stop")
        progress(i + 1, n, f"item {i}")
        time.sleep(0.002)
    return n * 2


def test_worker_reports_progress_and_result(qtbot):
    runner = JobRunner()
    worker = Worker(counting_job, 20)
    seen = []
    worker.progress.connect(lambda d, t, m: seen.append((d, t)))
    with qtbot.waitSignal(worker.finished, timeout=5000) as res:
        runner.start(worker)
    assert res.args == [40]
    assert seen[-1] == (20, 20)
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=2000)


def test_worker_cancel(qtbot):
    runner = JobRunner()
    worker = Worker(counting_job, 100000)
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        runner.start(worker)
        worker.cancel()
    assert runner.stop_all(2000)


def test_worker_failure_is_a_message(qtbot):
    def bad(*, progress, should_stop):
        raise ParameterError("unknown distance 'foo'")

    runner = JobRunner()
    worker = Worker(bad)
    with qtbot.waitSignal(worker.failed, timeout=5000) as res:
        runner.start(worker)
    assert res.args == ["unknown distance 'foo'"]
    runner.stop_all()


def test_stop_all_waits(qtbot):
    runner = JobRunner()
    workers = [runner.start(Worker(counting_job, 100000)) for _ in range(2)]
    assert runner.stop_all(5000)
    assert all(not w.running for w in workers)


def test_run_task_delivers_on_gui_thread(qtbot):
    out = []
    run_task(lambda: 1 + 1, out.append)
    qtbot.waitUntil(lambda: out == [2], timeout=3000)
    err = []
    run_task(lambda: 1 / 0, out.append, err.append)
    qtbot.waitUntil(lambda: bool(err), timeout=3000)
    assert err[0].startswith("ZeroDivisionError")


def test_no_job_starts_after_stop_all(qtbot):
    """A job queued while the window closes must not leave a thread running at Qt's teardown."""
    runner = JobRunner()
    assert runner.stop_all(1000)
    late = runner.start(Worker(counting_job, 100000))
    assert late.is_cancelled() and not runner.is_busy() and not late.running
