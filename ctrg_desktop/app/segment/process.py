"""The segmenter worker process, parent side (no Qt): spawns it, shares the study, sends requests.

Why a process: loading the segmenter in a thread of the GUI process stalled the Qt event loop
for about 500 ms (imports and weight loading hold the GIL), and torch would otherwise enter the
GUI process. Its loop and the protocol: :mod:`ctrg_desktop.workers.segmenting`.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import threading
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from ctrg_desktop.workers.segmenting import StudyRef, serve

#: the worker runs at a lower CPU priority than the GUI (POSIX nice increment)
NICE = 5


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


def _child_main(conn, cancel, torch_threads) -> None:
    """The spawned process's entry (here, so the child imports ``ctrg_desktop.app`` first: see its
    note on triton)."""
    if hasattr(os, "nice"):
        try:
            os.nice(NICE)  # the GUI wins the CPU when both want it
        except OSError:
            pass
    try:
        serve(conn, cancel, torch_threads)
    except KeyboardInterrupt:
        pass


# ------------------------------------------------------------------------------------------ parent

class SegmenterFailed(Exception):
    """The worker reported an error (its message is one readable line)."""


class SegmenterProcess:
    """Parent-side handle of the worker. :meth:`request` blocks (call it off the GUI thread);
    :meth:`cancel_propagation` (any thread) stops a running propagation at its next slice."""

    def __init__(self, segmenter: str = "litemedsam", device: str = "cpu", torch_threads: int | None = None):
        if torch_threads is None:  # one core stays free for the GUI
            torch_threads = max(1, usable_cores() - 1)
        self.segmenter, self.device, self.torch_threads = segmenter, device, torch_threads
        self.info: dict = {}
        self.loaded: dict = {}       #: what the worker's "load" answered
        self._process = None
        self._conn = None
        self._cancel = None
        self._study: StudyRef | None = None
        self._study_block = None     #: the parent's shared memory of the open study
        self._sent_study: str | None = None
        self._lock = threading.Lock()
        self._job = threading.Lock()  # one request at a time on the pipe

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> dict:
        """Start the process if needed, wait for "ready" and load the segmenter."""
        if not self.alive:
            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe()
            self._cancel = ctx.Event()
            process = ctx.Process(target=_child_main, args=(child, self._cancel, self.torch_threads),
                                  name="ctrg-segment-worker", daemon=True)
            process.start()
            child.close()
            self._process, self._conn = process, parent
            self.info, self.loaded, self._sent_study = {}, {}, None
            kind, info = self._recv()
            if kind != "ready":
                raise RuntimeError(f"the segmenter process answered {kind!r} instead of 'ready'")
            self.info = info
        if not self.loaded:
            self.loaded = self._exchange("load", (self.segmenter, self.device))
        return self.info

    def _recv(self):
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._process.exitcode if self._process is not None else None
            raise RuntimeError(f"the segmenter process stopped unexpectedly (exit code {code})") from exc

    def _exchange(self, kind, payload, on_progress=None, on_slice=None):
        try:
            self._conn.send((kind, payload))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"cannot reach the segmenter process: {exc}") from exc
        while True:
            answer, result = self._recv()
            if answer == "progress":
                if on_progress is not None:
                    on_progress(*result)
            elif answer == "slice":
                if on_slice is not None:
                    on_slice(result)
            elif answer in ("done", "cancelled"):
                return result
            elif answer == "error":
                raise SegmenterFailed(result)

    def set_study(self, volume, key: str) -> None:
        """Copy the study into shared memory once; it is sent to the worker with the next request."""
        array = np.ascontiguousarray(getattr(volume, "array", volume))
        block = shared_memory.SharedMemory(create=True, size=max(1, array.nbytes))
        np.ndarray(array.shape, array.dtype, buffer=block.buf)[...] = array
        with self._lock:
            old, self._study_block = self._study_block, block
            self._study = StudyRef(str(key), block.name, tuple(array.shape), array.dtype.str)
        if old is not None:  # the worker may still map it: unlinking only drops the name
            old.close()
            old.unlink()

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
                if self._sent_study != study.shm_name:
                    self._exchange("study", study)
                    self._sent_study = study.shm_name
            if kind == "propagate":
                self._cancel.clear()
            elif kind in ("predict", "patches") and on_progress is not None:
                on_progress(0, 2)
            return self._exchange(kind, payload, on_progress, on_slice)

    def cancel_propagation(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def stop(self) -> None:
        """Ask the worker to quit (a running request is killed) and free the study's shared memory."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self.info, self.loaded, self._sent_study = {}, {}, None
        if conn is not None:
            try:
                conn.send(("quit", None))
            except (OSError, ValueError):
                pass
        if process is not None:
            process.join(1)
            if process.is_alive():
                process.kill()
                process.join(2)
        if conn is not None:
            conn.close()
        with self._lock:
            block, self._study_block, self._study = self._study_block, None, None
        if block is not None:
            block.close()
            block.unlink()
