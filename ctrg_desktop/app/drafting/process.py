"""The drafting worker process, parent side (no Qt): a :class:`~ctrg_desktop.workers.process.WorkerProcess`
whose requests are drafts and warm-ups (handlers: :mod:`ctrg_desktop.workers.drafting`).

The process is spawned once, keeps the loaded model between drafts and is killed by Cancel (the
next draft spawns a fresh one).
"""

from __future__ import annotations

import threading

import numpy as np

from ctrg_desktop.io.volume import SeriesInfo, Volume
from ctrg_desktop.workers.drafting import DraftRequest, serve
from ctrg_desktop.workers.process import WorkerCancelled, WorkerFailed, WorkerProcess
from ctrg_desktop.workers.shared import release, share

#: progress events of a draft, in order ("ready": the process runs; "load" only when the model
#: is not loaded there yet)
STAGES = ("start", "ready", "load", "preprocess", "encode", "decode")


class DraftCancelled(WorkerCancelled):
    """The draft was cancelled (the worker process was stopped)."""


class DraftFailed(WorkerFailed):
    """The worker reported an error (its message is one readable line)."""


class DraftProcess(WorkerProcess):
    """Parent-side handle of one worker process. ``draft()`` blocks (call it off the GUI thread);
    ``cancel()`` (any thread) kills the process so a blocked ``draft()`` raises
    :class:`DraftCancelled`; the next ``draft()`` starts a new process."""

    title = "drafting"
    request_noun = "draft"
    process_name = "ctrg-draft-worker"
    failed_error = DraftFailed
    cancelled_error = DraftCancelled

    def __init__(self, torch_threads: int | None = None):
        super().__init__(serve, (torch_threads,))
        self.torch_threads = torch_threads
        self._job = threading.Lock()  # one draft or warm-up at a time on the pipe

    def start(self) -> dict:
        """Start the process if needed and wait for its "ready" (torch imported); returns its info."""
        return self.ensure_started()

    def warm(self, model: str) -> None:
        """Start the process and load ``model`` there ahead of a draft (blocks; off the GUI thread)."""
        self.clear_cancel()
        with self._job:
            self.start()
            self.exchange("warm", str(model))

    def draft(self, volume: Volume, model: str, device: str = "auto", on_stage=None, options=None):
        """Draft ``volume`` with zoo model ``model`` on ``device``; returns the ``DraftReport``."""
        self.clear_cancel()
        with self._job:
            return self._draft(volume, model, device, on_stage or (lambda stage: None), options)

    def _draft(self, volume, model, device, on_stage, options):
        if self.killed:  # cancelled while waiting for a warm-up to finish
            raise DraftCancelled("the draft was cancelled")
        on_stage("start")
        block, voxels = share(volume.array)
        try:
            self.start()
            on_stage("ready")  # the process runs: self.info says whether it has CUDA
            series = SeriesInfo(source_format=volume.series.source_format, source_path=volume.series.source_path)
            request = DraftRequest(model=str(model), device=str(device), voxels=voxels,
                                   spacing=tuple(volume.spacing), origin=tuple(volume.origin),
                                   direction=np.asarray(volume.direction).tolist(), series=series,
                                   options=dict(options or {}))
            return self.exchange("draft", request, notes={"stage": on_stage})
        finally:
            release(block)

    def cancel(self) -> None:
        """Stop the process now (a running draft raises :class:`DraftCancelled`)."""
        self.kill()
