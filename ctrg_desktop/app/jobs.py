"""One Qt job runner: a helper thread runs jobs in order, their ends arrive as signals on the GUI
thread; and one await-signal helper for the coroutines of the command line and scripts.

Used by drafting (waiting on its worker process), Export and Accept (writing files). A job's
function runs off the GUI thread; it reports with :meth:`Job.report` (``progress``) and may poll
:attr:`Job.cancel_requested`. Its end is exactly one of ``finished(job, result)``,
``failed(job, one line)`` or ``cancelled(job)``.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field

from PySide6 import QtCore

_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One run of ``function(job, *args)``: ``context`` is the caller's (what it needs when the job ends)."""

    name: str
    function: object
    args: tuple = ()
    context: object = None
    id: int = field(default_factory=lambda: next(_ids))
    runner: JobRunner | None = field(default=None, repr=False)
    result: object = None
    error: str = ""
    cancelled: bool = False
    seconds: float = 0.0   #: the function's run time
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the job to stop: a waiting job never runs; a running one ends ``cancelled`` (if the
        function checks :attr:`cancel_requested`, or raises one of the runner's cancel errors)."""
        self._cancel.set()

    def report(self, data) -> None:
        """From the job's function: ``progress(job, data)`` on the GUI thread."""
        if self.runner is not None:
            self.runner.progress.emit(self, data)


def plain_line(exc: BaseException) -> str:
    """The default failure line (:func:`ctrg_desktop.workers.pipe.one_line`)."""
    from ctrg_desktop.workers.pipe import one_line

    return one_line(exc)


def user_line(exc: BaseException) -> str:
    """A failure line for jobs that write files: user errors (``CtrgError``) and file errors
    (``OSError``) as they are, others with their type."""
    from ctrg_desktop.errors import CtrgError

    if isinstance(exc, (CtrgError, OSError)):
        return " ".join(str(exc).split()) or type(exc).__name__
    return plain_line(exc)


class JobRunner(QtCore.QObject):
    """Runs :meth:`run` 's jobs one at a time on its own thread (started when needed).

    ``describe(exc) -> str`` writes a failure's line; exceptions of ``cancel_errors`` end a job as
    cancelled; ``pick(waiting jobs) -> job`` chooses the next one (default: the oldest).
    Signals: ``started(job)``, ``progress(job, data)``, ``finished(job, result)``,
    ``failed(job, line)``, ``cancelled(job)`` (GUI thread)."""

    started = QtCore.Signal(object)
    progress = QtCore.Signal(object, object)
    finished = QtCore.Signal(object, object)
    failed = QtCore.Signal(object, str)
    cancelled = QtCore.Signal(object)

    def __init__(self, parent=None, name: str = "ctrg-job", describe=plain_line, cancel_errors: tuple = (),
                 pick=None):
        super().__init__(parent)
        self.name, self.describe, self.cancel_errors = name, describe, tuple(cancel_errors)
        self.pick = pick or (lambda waiting: waiting[0])  #: the next job of the waiting ones (oldest first)
        self._cond = threading.Condition()
        self._queue: list[Job] = []
        self._running: Job | None = None
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """A job is waiting or running."""
        with self._cond:
            return bool(self._queue) or self._running is not None

    @property
    def running(self) -> Job | None:
        return self._running

    def pending(self) -> list[Job]:
        """The waiting jobs (oldest first), then the running one."""
        with self._cond:
            return self._queue + ([self._running] if self._running is not None else [])

    def take_waiting(self, which=lambda job: True) -> list[Job]:
        """Remove the waiting jobs ``which(job)`` chooses and return them (they never run; no signal)."""
        with self._cond:
            taken = [job for job in self._queue if which(job)]
            self._queue = [job for job in self._queue if job not in taken]
            self._cond.notify_all()
        return taken

    def run(self, function, *args, name: str = "", context=None) -> Job:
        """Queue ``function(job, *args)``; returns the job at once."""
        job = Job(name or getattr(function, "__name__", "job"), function, args, context, runner=self)
        with self._cond:
            self._queue.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job waits or runs (closing the window, tests); False on timeout."""
        end = None if timeout is None else time.perf_counter() + timeout
        with self._cond:
            while self._queue or self._running is not None:
                left = None if end is None else end - time.perf_counter()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._thread = None
                    return
                job = self._running = self.pick(list(self._queue))
                self._queue.remove(job)
            self._run(job)
            with self._cond:
                self._running = None
                self._cond.notify_all()

    def _run(self, job: Job) -> None:
        if job.cancel_requested:  # cancelled while it waited
            job.cancelled = True
            self.cancelled.emit(job)
            return
        self.started.emit(job)
        start = time.perf_counter()
        try:
            job.result = job.function(job, *job.args)
        except self.cancel_errors:
            job.cancelled = True
        except Exception as exc:  # noqa: BLE001 -- one readable line for the user; the window stays up
            job.error = self.describe(exc)
        job.seconds = time.perf_counter() - start
        if job.cancelled or (job.cancel_requested and not job.error):
            job.cancelled = True
            self.cancelled.emit(job)
        elif job.error:
            self.failed.emit(job, job.error)
        else:
            self.finished.emit(job, job.result)


async def wait_for_signal(signal, start, check_started: bool = True) -> bool:
    """Call ``start()`` and wait (asyncio, under qasync) for ``signal(ok)``; with ``check_started``,
    False at once when ``start()`` returns None or False (nothing started)."""
    future = asyncio.get_event_loop().create_future()

    def done(ok) -> None:
        if not future.done():
            future.set_result(bool(ok))

    signal.connect(done)
    try:
        started = start()
        if check_started and (started is None or started is False):
            return False
        return await future
    finally:
        signal.disconnect(done)


def run_until_signal(signal, start) -> tuple:
    """Call ``start()`` and run a nested Qt event loop until ``signal`` is emitted (at once when
    ``start()`` emitted it already); returns the signal's arguments. For synchronous callers
    (scripts, tests) that keep the GUI live while they wait."""
    loop = QtCore.QEventLoop()
    got: list[tuple] = []

    def done(*args) -> None:
        got.append(args)
        loop.quit()

    signal.connect(done)
    try:
        start()
        if not got:
            loop.exec()
    finally:
        signal.disconnect(done)
    return got[0]
