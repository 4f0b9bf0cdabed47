"""The segmenter worker process, parent side (no Qt): a :class:`~ctrg_desktop.workers.process.WorkerProcess`
that loads the segmenter once, shares the open study and sends prompts and propagations
(handlers: :mod:`ctrg_desktop.workers.segmenting`).

Why a process: loading the segmenter in a thread of the GUI process stalled the Qt event loop
for about 500 ms (imports and weight loading hold the GIL), and torch would otherwise enter the
GUI process.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

from ctrg_desktop.workers.process import WorkerFailed, WorkerProcess
from ctrg_desktop.workers.segmenting import StudyRef, serve
from ctrg_desktop.workers.shared import release, share


def usable_cores() -> int:
    """CPU cores this process may run on: its affinity mask, capped by a cgroup CPU quota (a
    container's ``--cpus``); ``os.cpu_count()`` counts the host's cores, and torch threads beyond
    the usable cores made every slice embedding several times slower (``benchmarks/run.py
    propagate``, "all cores")."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    for path, split in (("/sys/fs/cgroup/cpu.max", None), ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "period")):
        try:
            if split is None:
                quota, period = Path(path).read_text().split()[:2]
            else:
                quota = Path(path).read_text().strip()
                period = Path(path).with_name("cpu.cfs_period_us").read_text().strip()
            if quota not in ("max", "-1") and int(period) > 0:
                cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
                break
        except (OSError, ValueError):
            continue
    return max(1, cores)


class SegmenterFailed(WorkerFailed):
    """The worker reported an error (its message is one readable line)."""


class SegmenterProcess(WorkerProcess):
    """Parent-side handle of the worker. :meth:`request` blocks (call it off the GUI thread);
    :meth:`cancel_propagation` (any thread) stops a running propagation at its next slice."""

    title = "segmenter"
    process_name = "ctrg-segment-worker"
    failed_error = SegmenterFailed
    quit_timeout = 1.0

    def __init__(self, segmenter: str = "litemedsam", device: str = "cpu", torch_threads: int | None = None):
        if torch_threads is None:  # one core stays free for the GUI
            torch_threads = max(1, usable_cores() - 1)
        super().__init__(serve, (torch_threads,))
        self.segmenter, self.device, self.torch_threads = segmenter, device, torch_threads
        self.loaded: dict = {}       #: what the worker's "load" answered
        self._study: StudyRef | None = None
        self._study_block = None     #: the parent's shared memory of the open study
        self._sent_study: str | None = None
        self._job = threading.Lock()  # one request at a time on the pipe

    def _started(self) -> None:
        self.loaded, self._sent_study = {}, None

    def start(self) -> dict:
        """Start the process if needed, wait for "ready" and load the segmenter."""
        self.ensure_started()
        if not self.loaded:
            self.loaded = self.exchange("load", (self.segmenter, self.device))
        return self.info

    def set_study(self, volume, key: str) -> None:
        """Copy the study into shared memory once; it is sent to the worker with the next request."""
        block, voxels = share(getattr(volume, "array", volume))
        with self._lock:
            old, self._study_block = self._study_block, block
            self._study = StudyRef(str(key), voxels)
        release(old)  # the worker may still map it: unlinking only drops the name

    def request(self, kind: str, payload: dict, on_progress=None, on_slice=None):
        """Run one request (starting the worker and sending the study first when needed).

        ``on_progress(done, planned)``: a propagation's slices, or a prompt's steps (``(0, 2)``
        once the worker is ready and embedding, ``(1, 2)`` when the slice is embedded);
        ``on_slice(info)``: a propagation's slice as it is added (``index``, ``mask`` packed,
        ``done``, ``planned``, ``seconds`` since the propagation started)."""
        with self._lock:
            study = self._study
        with self._job:
            self.start()
            if kind != "load":
                if study is None:
                    raise RuntimeError("open a study before segmenting")
                if self._sent_study != study.voxels.shm_name:
                    self.exchange("study", study)
                    self._sent_study = study.voxels.shm_name
            if kind == "propagate":
                self.clear_cancel()
            elif kind in ("predict", "patches") and on_progress is not None:
                on_progress(0, 2)
            notes = {"progress": (lambda counts: on_progress(*counts)) if on_progress is not None else None,
                     "slice": on_slice}
            return self.exchange(kind, payload, {k: v for k, v in notes.items() if v is not None})

    def cancel_propagation(self) -> None:
        self.cancel_running()

    def stop(self) -> None:
        """Ask the worker to quit (a running request is killed) and free the study's shared memory."""
        super().stop()
        self.loaded, self._sent_study = {}, None
        with self._lock:
            block, self._study_block, self._study = self._study_block, None, None
        release(block)
