"""Qt side of the segmenter: a queue of jobs for the worker process, results as signals.

One :class:`~ctrg_desktop.app.jobs.JobRunner` thread owns the pipe to
:class:`~ctrg_desktop.app.segment.process.SegmenterProcess` and only waits on it (no GIL held
while it waits), so the GUI thread stays free. Jobs run in order; a background embedding
(``prefetch``) yields to any prompt and a newer prefetch replaces an older one still waiting.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from PySide6 import QtCore

from ctrg_desktop.app.jobs import JobRunner
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
    started_at: float = 0.0    #: when the runner's thread sent it to the worker (perf_counter; 0 while queued)

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
        self.jobs = JobRunner(self, name="ctrg-segment", describe=_describe, pick=_urgent_first)
        self.jobs.started.connect(self._on_started)
        self.jobs.progress.connect(self._on_progress)
        for signal in (self.jobs.finished, self.jobs.failed, self.jobs.cancelled):
            signal.connect(self._on_end)
        self._lock = threading.Lock()
        self._volume = None          # (volume, key) waiting to be copied to shared memory
        self._quit = False
        self._announced = False

    # --------------------------------------------------------------------------------- GUI side
    @property
    def busy(self) -> bool:
        """A job other than a background embedding is queued or running."""
        return any(not j.context.prefetch for j in self.jobs.pending())

    @property
    def running(self) -> SegmentJob | None:
        running = self.jobs.running
        return running.context if running is not None else None

    def set_study(self, volume, key: str) -> None:
        """The open study changed: waiting jobs are dropped; the study goes to the worker lazily."""
        with self._lock:
            self._volume = (volume, str(key))
        self._drop(self.jobs.take_waiting())

    def _drop(self, jobs, cancelled: bool = False) -> None:
        for job in jobs:
            job.context.dropped = True
            job.context.cancelled = job.context.cancelled or cancelled
            self.finished.emit(job.context)

    def submit(self, job: SegmentJob) -> SegmentJob:
        self._quit = False
        stale = []
        if job.prefetch:  # only the newest background embedding waits
            stale = self.jobs.take_waiting(lambda j: j.context.prefetch)
            running = self.running
            if running is not None and running.prefetch and running.payload == job.payload:
                job = running  # that slice is being embedded already
        if job is not self.running:
            self.jobs.run(self._request, name=job.kind, context=job)
        self._drop(stale)
        return job

    def cancel_propagation(self) -> bool:
        """Stop a running or waiting propagation; True when there was one."""
        waiting = self.jobs.take_waiting(lambda j: j.context.kind == "propagate")
        running = self.running is not None and self.running.kind == "propagate"
        self._drop(waiting, cancelled=True)
        if running:
            self.process.cancel_propagation()
        return running or bool(waiting)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no job is queued or running (tests and benchmarks)."""
        return self.jobs.wait(timeout)

    def shutdown(self) -> None:
        """Stop the queue and the worker process (the window is closing)."""
        self._quit = True
        for job in self.jobs.take_waiting():
            job.context.dropped = True
        self.process.stop()
        self.jobs.wait(5)

    # ------------------------------------------------------------------------------ thread side
    def _request(self, runner_job) -> dict:
        """On the runner's thread: send the study when it changed, then the request."""
        job: SegmentJob = runner_job.context
        job.started_at = time.perf_counter()
        try:
            with self._lock:
                volume, self._volume = self._volume, None
            if volume is not None:
                self.process.set_study(*volume)
            first = not self.process.loaded
            result = self.process.request(job.kind, job.payload,
                                          on_progress=lambda done, planned: runner_job.report(("progress", done,
                                                                                               planned)),
                                          on_slice=lambda info: self._slice(runner_job, info))
            if (first or not self._announced) and not self._quit:
                self._announced = True
                runner_job.report(("ready", dict(self.process.loaded)))
            return result
        except SegmenterFailed:
            raise
        except Exception:
            job.dropped = job.dropped or self._quit  # the worker was stopped under it
            raise
        finally:
            job.seconds = time.perf_counter() - job.submitted

    def _slice(self, runner_job, info: dict) -> None:
        """A propagation's slice arrived: unpacked here (runner's thread), painted on the GUI thread."""
        if not self._quit:
            runner_job.report(("slice", {**info, "mask": unpack(info["mask"])}))

    def _on_started(self, runner_job) -> None:
        if not self._quit:
            self.started.emit(runner_job.context)

    def _on_progress(self, runner_job, data) -> None:
        job = runner_job.context
        if data[0] == "progress":
            self.progress.emit(job, data[1], data[2])
        elif data[0] == "slice":
            self.slice_done.emit(job, data[1])
        else:
            self.ready.emit(data[1])

    def _on_end(self, runner_job, _result_or_line=None) -> None:
        job: SegmentJob = runner_job.context
        if runner_job.error:
            job.error = runner_job.error
        else:
            job.result = runner_job.result
            job.cancelled = bool(job.result.get("cancelled"))
        if not self._quit:
            self.finished.emit(job)


def _urgent_first(waiting: list):
    """The oldest prompt or propagation, else the newest background embedding."""
    urgent = [j for j in waiting if not j.context.prefetch]
    return urgent[0] if urgent else waiting[-1]


def _describe(exc: BaseException) -> str:
    """A failed request's line: the worker's own line as it is, others with their type."""
    return str(exc) if isinstance(exc, SegmenterFailed) else one_line(exc)
