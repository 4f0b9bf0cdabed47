"""Qt side of the segmenter: a queue of jobs for the worker process, results as signals.

One dispatcher thread owns the pipe to :class:`~ctrg_desktop.app.segment.process.SegmenterProcess`
and only waits on it (no GIL held while it waits), so the GUI thread stays free. Jobs run in
order; a background embedding (``prefetch``) yields to any prompt and a newer prefetch replaces
an older one still waiting.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from PySide6 import QtCore

from ctrg_desktop.app.segment.process import SegmenterFailed, SegmenterProcess
from ctrg_desktop.workers.pipe import one_line, unpack

_ids = itertools.count(1)


@dataclass
class SegmentJob:
    """One request: ``kind`` (embed, predict, patches, propagate), its ``payload``, and what the
    controller needs to apply the answer (``context``). Filled in when it ends."""

    kind: str
    payload: dict
    context: dict = field(default_factory=dict)
    prefetch: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    result: dict | None = None
    error: str | None = None
    cancelled: bool = False
    dropped: bool = False      #: never ran (a new study, or shut down)
    submitted: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0       #: from submission to the answer
    started_at: float = 0.0    #: when the dispatcher sent it to the worker (perf_counter; 0 while queued)

    @property
    def ok(self) -> bool:
        return self.result is not None and self.error is None


class SegmentWorker(QtCore.QObject):
    """``submit(job)`` queues a job; ``started(job)``, ``progress(job, done, planned)``,
    ``slice_done(job, info)`` (a propagation's slice as soon as it is added: ``index``, ``mask``
    the 2D bool array, ``done``, ``planned``, ``seconds``) and ``finished(job)`` arrive on the GUI
    thread (``finished`` also for dropped jobs)."""

    started = QtCore.Signal(object)
    progress = QtCore.Signal(object, int, int)
    slice_done = QtCore.Signal(object, dict)
    finished = QtCore.Signal(object)
    ready = QtCore.Signal(dict)  #: the worker's "load" answer (segmenter name, device, seconds)

    def __init__(self, parent=None, process: SegmenterProcess | None = None):
        super().__init__(parent)
        self.process = process or SegmenterProcess()
        self._cond = threading.Condition()
        self._queue: list[SegmentJob] = []
        self._running: SegmentJob | None = None
        self._volume = None          # (volume, key) waiting to be copied to shared memory
        self._thread: threading.Thread | None = None
        self._quit = False
        self._announced = False

    # --------------------------------------------------------------------------------- GUI side
    @property
    def busy(self) -> bool:
        """A job other than a background embedding is queued or running."""
        with self._cond:
            jobs = self._queue + ([self._running] if self._running else [])
            return any(not j.prefetch for j in jobs)

    @property
    def running(self) -> SegmentJob | None:
        return self._running

    def set_study(self, volume, key: str) -> None:
        """The open study changed: waiting jobs are dropped; the study goes to the worker lazily."""
        with self._cond:
            dropped, self._queue = self._queue, []
            self._volume = (volume, str(key))
            self._cond.notify_all()
        for job in dropped:
            job.dropped = True
            self.finished.emit(job)

    def submit(self, job: SegmentJob) -> SegmentJob:
        stale = []
        with self._cond:
            if job.prefetch:  # only the newest background embedding waits
                stale = [j for j in self._queue if j.prefetch]
                self._queue = [j for j in self._queue if not j.prefetch]
                running = self._running
                if running is not None and running.prefetch and running.payload == job.payload:
                    job = running  # that slice is being embedded already
            if job is not self._running:
                self._queue.append(job)
                self._ensure_thread()
                self._cond.notify_all()
        for old in stale:
            old.dropped = True
            self.finished.emit(old)
        return job

    def cancel_propagation(self) -> bool:
        """Stop a running or waiting propagation; True when there was one."""
        with self._cond:
            waiting = [j for j in self._queue if j.kind == "propagate"]
            self._queue = [j for j in self._queue if j.kind != "propagate"]
            running = self._running is not None and self._running.kind == "propagate"
        for job in waiting:
            job.cancelled = job.dropped = True
            self.finished.emit(job)
        if running:
            self.process.cancel_propagation()
        return running or bool(waiting)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no job is queued or running (tests and benchmarks)."""
        end = time.perf_counter() + timeout
        with self._cond:
            while self._queue or self._running is not None:
                left = end - time.perf_counter()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def shutdown(self) -> None:
        """Stop the thread and the worker process (the window is closing)."""
        with self._cond:
            self._quit = True
            dropped, self._queue = self._queue, []
            self._cond.notify_all()
        for job in dropped:
            job.dropped = True
        self.process.stop()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # ------------------------------------------------------------------------------ thread side
    def _slice(self, job: SegmentJob, info: dict) -> None:
        """A propagation's slice arrived (dispatcher thread): unpacked here, painted on the GUI thread."""
        if not self._quit:
            self.slice_done.emit(job, {**info, "mask": unpack(info["mask"])})

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._quit = False
            self._thread = threading.Thread(target=self._loop, name="ctrg-segment", daemon=True)
            self._thread.start()

    def _next(self) -> SegmentJob | None:
        with self._cond:
            while not self._quit and not self._queue:
                self._cond.wait()
            if self._quit:
                return None
            urgent = [j for j in self._queue if not j.prefetch]
            job = urgent[0] if urgent else self._queue[-1]
            self._queue.remove(job)
            self._running = job
            volume, self._volume = self._volume, None
        if volume is not None:
            self.process.set_study(*volume)
        return job

    def _loop(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            job.started_at = time.perf_counter()
            self.started.emit(job)
            try:
                first = not self.process.loaded
                job.result = self.process.request(job.kind, job.payload,
                                                  on_progress=lambda done, planned, j=job: self.progress.emit(j, done,
                                                                                                              planned),
                                                  on_slice=lambda info, j=job: self._slice(j, info))
                job.cancelled = bool(job.result.get("cancelled"))
                if (first or not self._announced) and not self._quit:
                    self._announced = True
                    self.ready.emit(dict(self.process.loaded))
            except SegmenterFailed as exc:
                job.error = str(exc)
            except Exception as exc:  # noqa: BLE001 -- shown to the user, the window stays usable
                job.error = one_line(exc)
                if self._quit:
                    job.dropped = True
            job.seconds = time.perf_counter() - job.submitted
            with self._cond:
                self._running = None
                self._cond.notify_all()
            if not self._quit:
                self.finished.emit(job)
