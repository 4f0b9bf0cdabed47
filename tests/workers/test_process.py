"""The worker-process base: a real spawned child (no torch) over the real pipe protocol."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from ctrg_desktop.workers.process import NICE, WorkerCancelled, WorkerFailed, WorkerProcess
from ctrg_desktop.workers.shared import SharedArray, release, share
from tests.workers import toy_worker


class ToyProcess(WorkerProcess):
    title = "toy"
    process_name = "ctrg-toy-worker"


@pytest.fixture(scope="module")
def toy():
    process = ToyProcess(toy_worker.serve, ("hello",))
    yield process
    process.stop()


def test_ready_info_notes_result_and_niceness(toy):
    info = toy.ensure_started()
    assert info["greeting"] == "hello" and info["pid"] != os.getpid() and toy.alive
    seen = []
    assert toy.exchange("count", 3, {"progress": seen.append}) == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]
    if hasattr(os, "nice"):
        assert toy.exchange("nice") >= min(19, os.nice(0) + NICE)


def test_shared_volume_arrives_whole(toy):
    toy.ensure_started()
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) - 60
    block, ref = share(array)
    try:
        assert ref == SharedArray(block.name, (4, 5, 6), "<i2")
        assert toy.exchange("sum", ref) == float(array.sum())
        assert np.array_equal(ref.read(), array)
    finally:
        release(block)


def test_errors_come_back_as_one_line_and_the_worker_stays(toy):
    toy.ensure_started()
    with pytest.raises(WorkerFailed) as failed:
        toy.exchange("fail", "x")
    assert str(failed.value) == "ValueError: bad input: x"
    with pytest.raises(WorkerFailed, match="unknown request 'nope'"):
        toy.exchange("nope")
    assert toy.exchange("count", 1) == 1


def test_cancel_event_stops_the_running_request(toy):
    toy.ensure_started()
    toy.clear_cancel()
    threading.Timer(0.3, toy.cancel_running).start()
    start = time.monotonic()
    assert toy.exchange("wait", 30) == {"cancelled": True}
    assert time.monotonic() - start < 20
    toy.clear_cancel()
    assert toy.exchange("wait", 0.05) == {"cancelled": False}


def test_kill_cancels_a_blocked_request_and_the_next_request_restarts():
    process = ToyProcess(toy_worker.serve, ("again",))
    try:
        first = process.ensure_started()["pid"]
        threading.Timer(0.5, process.kill).start()
        with pytest.raises(WorkerCancelled, match="the request was cancelled"):
            process.exchange("hang", 60)
        assert not process.alive
        with pytest.raises(WorkerCancelled):
            process.exchange("count", 1)  # killed until cleared
        process.clear_cancel()
        assert process.ensure_started()["pid"] != first
        assert process.exchange("count", 2) == 2
    finally:
        process.stop()


def test_a_crash_is_reported_with_its_exit_code():
    process = ToyProcess(toy_worker.serve, ("crash",))
    try:
        pid = process.ensure_started()["pid"]
        threading.Timer(0.5, os.kill, (pid, 9)).start()  # dies mid-request
        with pytest.raises(RuntimeError, match=r"the toy process stopped unexpectedly \(exit code -9\)"):
            process.exchange("hang", 60)
        with pytest.raises(RuntimeError, match="cannot reach the toy process"):
            process.exchange("count", 1)  # dead between requests
    finally:
        process.stop()


def test_stop_kills_a_worker_that_does_not_quit():
    process = ToyProcess(toy_worker.ignore_quit)
    process.quit_timeout = 0.5
    process.ensure_started()
    handle = process._process
    start = time.monotonic()
    process.stop()
    assert not handle.is_alive() and time.monotonic() - start < 10
    assert not process.alive and process.info == {}
    with pytest.raises(RuntimeError, match="cannot reach the toy process"):
        process.exchange("count", 1)
