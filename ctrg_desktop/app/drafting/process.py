"""The drafting worker process, parent side (no Qt): spawns it and exchanges requests.

Why a process and not a thread: a thread drafting the demo study stalled the Qt event loop
for up to 216 ms while loading the model (imports and weight loading hold the GIL), and
Python cannot stop a thread halfway through a beam search. The process is spawned once, keeps
the loaded models (per name and device) between drafts and is killed by Cancel (the next draft
spawns a fresh one). Its loop and the protocol: :mod:`ctrg_desktop.workers.drafting`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from multiprocessing import shared_memory

import numpy as np

from ctrg_desktop.io.volume import SeriesInfo, Volume
from ctrg_desktop.workers.drafting import DraftRequest, serve

#: progress events of a draft, in order ("ready": the process runs; "load" only when the model
#: is not loaded there yet)
STAGES = ("start", "ready", "load", "preprocess", "encode", "decode")


#: the worker runs at a lower CPU priority than the GUI (POSIX nice increment)
NICE = 5


def _child_main(conn, torch_threads) -> None:
    """The spawned process's entry (here, so the child imports ``ctrg_desktop.app`` first: see its
    note on triton)."""
    if hasattr(os, "nice"):
        try:
            os.nice(NICE)  # the GUI wins the CPU when both want it
        except OSError:
            pass
    try:
        serve(conn, torch_threads)
    except KeyboardInterrupt:
        pass


# ------------------------------------------------------------------------------------------ parent

class DraftCancelled(Exception):
    """The draft was cancelled (the worker process was stopped)."""


class DraftProcess:
    """Parent-side handle of one worker process. ``draft()`` blocks (call it off the GUI thread);
    ``cancel()`` (any thread) kills the process so a blocked ``draft()`` raises
    :class:`DraftCancelled`; the next ``draft()`` starts a new process."""

    def __init__(self, torch_threads: int | None = None):
        self.torch_threads = torch_threads
        self.info: dict = {}
        self._process = None
        self._conn = None
        self._lock = threading.Lock()
        self._job = threading.Lock()  # one draft or warm-up at a time on the pipe
        self._cancelled = threading.Event()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> dict:
        """Start the process if needed and wait for its "ready" (torch imported); returns its info."""
        with self._lock:
            if not self.alive:
                ctx = mp.get_context("spawn")
                parent, child = ctx.Pipe()
                process = ctx.Process(target=_child_main, args=(child, self.torch_threads),
                                      name="ctrg-draft-worker", daemon=True)
                process.start()
                child.close()
                self._process, self._conn = process, parent
                self.info = {}
            conn = self._conn
        if not self.info:
            kind, info = self._recv(conn)
            if kind != "ready":
                raise RuntimeError(f"the drafting process answered {kind!r} instead of 'ready'")
            self.info = info
        return self.info

    def _recv(self, conn):
        try:
            return conn.recv()
        except (EOFError, OSError) as exc:
            if self._cancelled.is_set():
                raise DraftCancelled("the draft was cancelled") from None
            code = self._process.exitcode if self._process is not None else None
            raise RuntimeError(f"the drafting process stopped unexpectedly (exit code {code})") from exc

    def _exchange(self, message, on_stage=None):
        """Send one request and read answers up to its "done" payload."""
        conn = self._conn
        if self._cancelled.is_set() or conn is None:
            raise DraftCancelled("the draft was cancelled")
        try:
            conn.send(message)
        except (OSError, ValueError) as exc:
            if self._cancelled.is_set():
                raise DraftCancelled("the draft was cancelled") from None
            raise RuntimeError(f"cannot reach the drafting process: {exc}") from exc
        while True:
            kind, payload = self._recv(conn)
            if kind == "stage" and on_stage is not None:
                on_stage(payload)
            elif kind == "done":
                return payload
            elif kind == "error":
                raise DraftFailed(payload)

    def warm(self, model: str) -> None:
        """Start the process and load ``model`` there ahead of a draft (blocks; off the GUI thread)."""
        self._cancelled.clear()
        with self._job:
            self.start()
            self._exchange(("warm", str(model)))

    def draft(self, volume: Volume, model: str, device: str = "auto", on_stage=None, options=None):
        """Draft ``volume`` with zoo model ``model`` on ``device``; returns the ``DraftReport``."""
        self._cancelled.clear()
        with self._job:
            return self._draft(volume, model, device, on_stage, options)

    def _draft(self, volume, model, device, on_stage, options):
        on_stage = on_stage or (lambda stage: None)
        if self._cancelled.is_set():  # cancelled while waiting for a warm-up to finish
            raise DraftCancelled("the draft was cancelled")
        on_stage("start")
        array = np.ascontiguousarray(volume.array)
        block = shared_memory.SharedMemory(create=True, size=max(1, array.nbytes))
        try:
            np.ndarray(array.shape, array.dtype, buffer=block.buf)[...] = array
            self.start()
            on_stage("ready")  # the process runs: self.info says whether it has CUDA
            series = SeriesInfo(source_format=volume.series.source_format, source_path=volume.series.source_path)
            request = DraftRequest(model=str(model), device=str(device), shm_name=block.name,
                                   shape=tuple(array.shape), dtype=array.dtype.str,
                                   spacing=tuple(volume.spacing), origin=tuple(volume.origin),
                                   direction=np.asarray(volume.direction).tolist(), series=series,
                                   options=dict(options or {}))
            return self._exchange(("draft", request), on_stage)
        finally:
            block.close()
            block.unlink()

    def cancel(self) -> None:
        """Stop the process now (a running draft raises :class:`DraftCancelled`)."""
        self._cancelled.set()
        with self._lock:
            process = self._process
            self._process = self._conn = None
            self.info = {}
        if process is not None:  # a draft blocked on the pipe now reads EOF (the pipe closes when collected)
            process.kill()
            process.join(5)

    def stop(self) -> None:
        """Ask the process to quit (used when the window closes)."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if conn is not None:
            try:
                conn.send(("quit", None))
            except (OSError, ValueError):
                pass
            conn.close()
        if process is not None:
            process.join(2)
            if process.is_alive():
                process.kill()
                process.join(2)


class DraftFailed(Exception):
    """The worker reported an error (its message is one readable line)."""
