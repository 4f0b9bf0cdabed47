"""Qt side of drafting: jobs for the worker process, run by a :class:`~ctrg_desktop.app.jobs.JobRunner`,
results as signals.

The runner's thread only waits on the pipe (no GIL held while it waits), so the GUI thread stays
free; the heavy work happens in the worker process (:mod:`ctrg_desktop.workers.drafting`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6 import QtCore

from ctrg_desktop.app.drafting.process import DraftCancelled, DraftFailed, DraftProcess
from ctrg_desktop.app.jobs import JobRunner
from ctrg_desktop.workers.pipe import one_line


@dataclass
class DraftOutcome:
    """How a draft ended: ``draft`` set on success, ``error`` a readable line, or ``cancelled``."""

    model: str
    device: str
    draft: object = None
    error: str | None = None
    cancelled: bool = False
    seconds: float = 0.0
    stage_times: dict = field(default_factory=dict)  #: stage -> seconds since the click

    @property
    def ok(self) -> bool:
        return self.draft is not None


class DraftWorker(QtCore.QObject):
    """``draft(volume, model, device)`` starts a job; ``stage(name)`` and ``finished(DraftOutcome)``
    arrive on the GUI thread. ``cancel()`` stops the worker process at once. Drafts and warm-ups
    run on one :class:`~ctrg_desktop.app.jobs.JobRunner` (in order: one pipe)."""

    stage = QtCore.Signal(str)
    finished = QtCore.Signal(object)
    ready = QtCore.Signal(dict)      #: the worker process's info (cuda, cuda_name) once it runs
    warmed = QtCore.Signal(str, str)  #: model, error ('' when loaded)

    def __init__(self, parent=None, torch_threads: int | None = None):
        super().__init__(parent)
        self.process = DraftProcess(torch_threads=torch_threads)
        self.jobs = JobRunner(self, name="ctrg-draft", describe=_describe, cancel_errors=(DraftCancelled,))
        self.jobs.progress.connect(self._on_progress)
        for signal in (self.jobs.finished, self.jobs.failed, self.jobs.cancelled):
            signal.connect(self._on_end)
        self._job: DraftOutcome | None = None
        self._draft_job = None  #: the runner's job of the current draft

    @property
    def busy(self) -> bool:
        return self._job is not None

    def draft(self, volume, model: str, device: str = "auto", options: dict | None = None) -> DraftOutcome:
        """Start drafting (raises ``RuntimeError`` when a draft is already running)."""
        if self.busy:
            raise RuntimeError("a draft is already running; cancel it first")
        outcome = DraftOutcome(model=model, device=device)
        self._job = outcome
        self._draft_job = self.jobs.run(self._draft, volume, options, name="draft", context=outcome)
        return outcome

    def _draft(self, job, volume, options):
        """On the runner's thread: the draft; each stage is reported as (name, the process info at "ready")."""
        outcome: DraftOutcome = job.context
        start = time.perf_counter()

        def on_stage(name: str) -> None:
            outcome.stage_times[name] = time.perf_counter() - start
            job.report((name, dict(self.process.info) if name == "ready" else None))

        try:
            return self.process.draft(volume, outcome.model, outcome.device, on_stage=on_stage, options=options)
        finally:
            outcome.seconds = time.perf_counter() - start

    def _on_progress(self, job, data) -> None:
        name, info = data
        if name == "ready":
            self.ready.emit(info)
        else:
            self.stage.emit(name)

    def _on_end(self, job, _result_or_line=None) -> None:
        """A job ended (finished, failed or cancelled): a warm-up's ``warmed``, a draft's ``finished``."""
        if job.name == "warm":
            if not job.cancelled:
                if self.process.info:
                    self.ready.emit(dict(self.process.info))
                self.warmed.emit(job.context, job.error)
            return
        outcome: DraftOutcome = job.context
        outcome.draft = job.result if not job.cancelled and not job.error else None
        outcome.error = job.error or None
        outcome.cancelled = outcome.cancelled or job.cancelled
        self.finished.emit(outcome)

    def warm(self, model: str) -> None:
        """Start the worker process and load ``model`` in the background (ignored while busy)."""
        if self.busy:
            return
        self.jobs.run(lambda job: self.process.warm(model), name="warm", context=model)

    def take_finished(self, job: DraftOutcome) -> bool:
        """Called by the receiver of ``finished``: True when ``job`` is the current one (it is cleared)."""
        if job is self._job:
            self._job = None
            return True
        return False

    def cancel(self) -> None:
        """Stop the running draft now (its ``finished`` comes with ``cancelled``)."""
        if self._job is not None:
            self._job.cancelled = True
        if self._draft_job is not None:
            self._draft_job.cancel()  # also when it still waits behind a warm-up
        self.process.cancel()

    def wait(self, timeout: float | None = None) -> None:
        self.jobs.wait(timeout)

    def shutdown(self) -> None:
        """Quit the worker process (the window is closing): at once while it drafts."""
        if self.busy:
            self.process.cancel()
        else:
            self.process.stop()


def _describe(exc: BaseException) -> str:
    """A failed draft's line: the worker's own line as it is, others with their type."""
    return str(exc) if isinstance(exc, DraftFailed) else one_line(exc)
