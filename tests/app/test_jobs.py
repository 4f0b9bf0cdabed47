"""The Qt job runner and the await-signal helpers: real signals, a real helper thread, no window."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

pytest.importorskip("PySide6")
from PySide6 import QtCore  # noqa: E402

from ctrg_desktop.app.jobs import JobRunner, run_until_signal, user_line, wait_for_signal  # noqa: E402
from ctrg_desktop.errors import CtrgError  # noqa: E402
from tests.app.helpers import until_signal  # noqa: E402


class Stop(Exception):
    pass


class Events(QtCore.QObject):
    done = QtCore.Signal(bool)


def _record(runner: JobRunner) -> list:
    seen = []
    runner.started.connect(lambda job: seen.append(("started", job.name, threading.current_thread().name)))
    runner.progress.connect(lambda job, data: seen.append(("progress", job.name, data)))
    runner.finished.connect(lambda job, result: seen.append(("finished", job.name, result)))
    runner.failed.connect(lambda job, line: seen.append(("failed", job.name, line)))
    runner.cancelled.connect(lambda job: seen.append(("cancelled", job.name)))
    return seen


def test_jobs_run_in_order_off_the_gui_thread_and_end_once(qtbot):
    runner = JobRunner(name="test-jobs")
    seen = _record(runner)
    threads = []

    def count(job, n):
        threads.append(threading.current_thread().name)
        for i in range(n):
            job.report(i)
        return n * 10

    def fail(job):
        raise ValueError("bad\n   value")

    runner.run(count, 3, name="a")
    runner.run(fail, name="b")
    with qtbot.waitSignal(runner.finished, timeout=10_000, check_params_cb=lambda job, _: job.name == "c"):
        runner.run(count, 1, name="c")
    assert runner.wait(10) and not runner.busy
    assert threads == ["test-jobs", "test-jobs"]
    assert seen == [("started", "a", "MainThread"), ("progress", "a", 0), ("progress", "a", 1), ("progress", "a", 2),
                    ("finished", "a", 30), ("started", "b", "MainThread"), ("failed", "b", "ValueError: bad value"),
                    ("started", "c", "MainThread"), ("progress", "c", 0), ("finished", "c", 10)]


def test_cancel_a_waiting_job_a_polling_job_and_by_exception(qtbot):
    runner = JobRunner(cancel_errors=(Stop,))
    seen = _record(runner)
    gate = threading.Event()

    def poll(job):
        gate.set()
        while not job.cancel_requested:
            time.sleep(0.01)
        return "partial"

    first = runner.run(poll, name="poll")
    waiting = runner.run(lambda job: "never", name="waiting")
    assert runner.busy and gate.wait(10)
    waiting.cancel()
    first.cancel()
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.run(lambda job: (_ for _ in ()).throw(Stop()), name="raise")
        runner.run(lambda job: "ok", name="after")
    assert first.cancelled and waiting.cancelled and first.result == "partial"
    assert [e for e in seen if e[0] != "started"] == [("cancelled", "poll"), ("cancelled", "waiting"),
                                                      ("cancelled", "raise"), ("finished", "after", "ok")]
    assert ("started", "waiting", "MainThread") not in seen  # it never ran


def test_wait_times_out_while_a_job_runs(qtbot):
    runner = JobRunner()
    release = threading.Event()
    runner.run(lambda job: release.wait(10))
    assert not runner.wait(0.2) and runner.busy
    release.set()
    assert runner.wait(10)


def test_run_until_signal_and_the_test_helper(qtbot):
    events = Events()
    later = lambda: QtCore.QTimer.singleShot(50, lambda: events.done.emit(True))  # noqa: E731
    assert run_until_signal(events.done, later) == (True,)
    assert run_until_signal(events.done, lambda: events.done.emit(False)) == (False,)  # emitted at once
    assert until_signal(qtbot, events.done, lambda: QtCore.QTimer.singleShot(10, lambda: events.done.emit(True))) \
        == [True]


def test_wait_for_signal_under_qasync(qapp):
    qasync = pytest.importorskip("qasync")
    events = Events()
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        later = lambda: QtCore.QTimer.singleShot(20, lambda: events.done.emit(True)) or True  # noqa: E731
        assert loop.run_until_complete(wait_for_signal(events.done, later)) is True
        assert loop.run_until_complete(wait_for_signal(events.done, lambda: None)) is False  # nothing started
        assert loop.run_until_complete(wait_for_signal(events.done, lambda: events.done.emit(False),
                                                       check_started=False)) is False
        assert events.receivers(QtCore.SIGNAL("done(bool)")) == 0  # disconnected each time
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_failure_lines_of_file_writing_jobs():
    assert user_line(OSError("disk\n   full")) == "disk full"
    assert user_line(CtrgError("")) == "CtrgError"  # never an empty line (an empty error reads as success)
    assert user_line(KeyError("x")) == "KeyError: 'x'"
