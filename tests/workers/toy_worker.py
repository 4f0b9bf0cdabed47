"""A torch-free worker for the tests of :mod:`ctrg_desktop.workers.process`: its handlers sum a
shared array, count with notes, wait for the cancel event, hang, or fail."""

from __future__ import annotations

import os
import time

from ctrg_desktop.workers.pipe import answer_requests


def serve(conn, cancel, greeting: str) -> None:
    def count(n):
        for i in range(int(n)):
            conn.send(("progress", (i + 1, int(n))))
        return int(n)

    def wait_for_cancel(seconds):
        end = time.monotonic() + float(seconds)
        while time.monotonic() < end:
            if cancel.is_set():
                return {"cancelled": True}
            time.sleep(0.01)
        return {"cancelled": False}

    def fail(text):
        raise ValueError(f"bad\n  input: {text}")

    handlers = {"sum": lambda ref: float(ref.read().sum()), "count": count, "wait": wait_for_cancel,
                "hang": lambda seconds: time.sleep(float(seconds)), "fail": fail,
                "nice": lambda _: os.nice(0)}
    answer_requests(conn, handlers, ready={"greeting": greeting, "pid": os.getpid()})


def ignore_quit(conn, cancel) -> None:
    """A worker stuck in a request that never reads "quit"."""
    conn.send(("ready", {}))
    time.sleep(600)
