"""Qt side of drafting: jobs for the worker process, run from a helper thread, results as signals.

The helper thread only waits on the pipe (no GIL held while it waits), so the GUI thread stays
free; the heavy work happens in the worker process (:mod:`ctrg_desktop.workers.drafting`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from PySide6 import QtCore

from ctrg_desktop.app.drafting.process import DraftCancelled, DraftFailed, DraftProcess
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
    arrive on the GUI thread. ``cancel()`` stops the worker process at once."""

    stage = QtCore.Signal(str)
    finished = QtCore.Signal(object)
    ready = QtCore.Signal(dict)      #: the worker process's info (cuda, cuda_name) once it runs
    warmed = QtCore.Signal(str, str)  #: model, error ('' when loaded)

    def __init__(self, parent=None, torch_threads: int | None = None):
        super().__init__(parent)
        self.process = DraftProcess(torch_threads=torch_threads)
        self._thread: threading.Thread | None = None
        self._job: DraftOutcome | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def draft(self, volume, model: str, device: str = "auto", options: dict | None = None) -> DraftOutcome:
        """Start drafting (raises ``RuntimeError`` when a draft is already running)."""
        if self.busy:
            raise RuntimeError("a draft is already running; cancel it first")
        job = DraftOutcome(model=model, device=device)
        self._job = job
        self._thread = threading.Thread(target=self._run, args=(job, volume, options), name="ctrg-draft",
                                        daemon=True)
        self._thread.start()
        return job

    def _run(self, job: DraftOutcome, volume, options) -> None:
        start = time.perf_counter()

        def on_stage(name: str) -> None:
            job.stage_times[name] = time.perf_counter() - start
            if name == "ready":
                self.ready.emit(dict(self.process.info))
            else:
                self.stage.emit(name)

        try:
            job.draft = self.process.draft(volume, job.model, job.device, on_stage=on_stage, options=options)
        except DraftCancelled:
            job.cancelled = True
        except DraftFailed as exc:
            job.error = str(exc)
        except Exception as exc:  # noqa: BLE001 -- shown to the user, the window stays usable
            job.error = one_line(exc)
        job.seconds = time.perf_counter() - start
        self.finished.emit(job)

    def warm(self, model: str) -> None:
        """Start the worker process and load ``model`` in the background (ignored while busy)."""
        if self.busy:
            return

        def run() -> None:
            try:
                self.process.warm(model)
                error = ""
            except DraftCancelled:
                return
            except Exception as exc:  # noqa: BLE001
                error = exc.args[0] if isinstance(exc, DraftFailed) else one_line(exc)
            if self.process.info:
                self.ready.emit(dict(self.process.info))
            self.warmed.emit(model, error)

        threading.Thread(target=run, name="ctrg-draft-warm", daemon=True).start()

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
        self.process.cancel()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def shutdown(self) -> None:
        """Quit the worker process (the window is closing): at once while it drafts."""
        if self.busy:
            self.process.cancel()
        else:
            self.process.stop()
