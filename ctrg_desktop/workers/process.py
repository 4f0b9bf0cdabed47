"""One worker process, parent side (no Qt): spawn, the "ready" handshake, request and answers,
cancel, stop. The drafting and segmenter handles (:mod:`ctrg_desktop.app.drafting.process`,
:mod:`ctrg_desktop.app.segment.process`) are small subclasses.

Protocol over a ``multiprocessing`` pipe. Parent -> child: ``(kind, payload)``; ``("quit", None)``
ends the child's loop. Child -> parent: ``("ready", info)`` once, then per request any number of
notes ``(name, data)`` (``"stage"``, ``"progress"``, ``"slice"`` ...: handed to the request's
callbacks) and one final ``("done", result)``, ``("cancelled", result)`` or ``("error", one line)``
(:func:`ctrg_desktop.workers.pipe.answer_requests` is the child's loop). Cancelling: a shared
``cancel`` event the running request may poll (:meth:`WorkerProcess.cancel_running`), or
:meth:`WorkerProcess.kill` (the running request raises the handle's ``cancelled_error``).
Stopping: "quit", a join with a timeout, then kill.

Why processes and not threads: loading torch models in a thread of the GUI process stalled the Qt
event loop for 200-500 ms (imports and weight loading hold the GIL), and Python cannot stop a
thread halfway through a beam search.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading

#: the worker runs at a lower CPU priority than the GUI (POSIX nice increment)
NICE = 5


def child_main(serve, conn, cancel, args, block_triton: bool) -> None:
    """The spawned process's entry: lower priority, then ``serve(conn, cancel, *args)``.

    ``block_triton``: the parent keeps triton out (``ctrg_desktop.app``'s note on Mesa's and
    triton's LLVM), so the child does too; Ctrl+C in the terminal ends the loop quietly."""
    if block_triton:
        sys.modules.setdefault("triton", None)
    if hasattr(os, "nice"):
        try:
            os.nice(NICE)  # the GUI wins the CPU when both want it
        except OSError:
            pass
    try:
        serve(conn, cancel, *args)
    except KeyboardInterrupt:
        pass


class WorkerFailed(Exception):
    """The worker reported an error (its message is one readable line)."""


class WorkerCancelled(Exception):
    """The request was cancelled (the worker process was killed)."""


class WorkerProcess:
    """Parent-side handle of one worker process running ``serve(conn, cancel, *args)``.

    :meth:`exchange` blocks (call it off the GUI thread); :meth:`kill`, :meth:`cancel_running`
    and :meth:`stop` may be called from any thread. Subclasses name the worker (``title``, used in
    messages), the process (``process_name``) and their error types."""

    title = "worker"
    request_noun = "request"  #: "the draft was cancelled"
    process_name = "ctrg-worker"
    failed_error: type[Exception] = WorkerFailed
    cancelled_error: type[Exception] = WorkerCancelled
    quit_timeout = 2.0  #: seconds a stopping worker gets to quit before it is killed

    def __init__(self, serve, args: tuple = ()):
        self.serve, self.args = serve, tuple(args)
        self.info: dict = {}         #: what the worker's "ready" said
        self._process = None
        self._conn = None
        self._cancel = None          #: the shared cancel event of the running request
        self._lock = threading.Lock()
        self._killed = threading.Event()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    # ------------------------------------------------------------------------------- starting
    def _launch(self):
        """Spawn the child; returns (process handle with ``is_alive``/``kill``/``join``/``exitcode``,
        the parent's end of the pipe, the shared cancel event). Tests override it to run
        ``serve`` in a thread."""
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        cancel = ctx.Event()
        block_triton = "triton" in sys.modules and sys.modules["triton"] is None
        process = ctx.Process(target=child_main, args=(self.serve, child, cancel, self.args, block_triton),
                              name=self.process_name, daemon=True)
        process.start()
        child.close()
        return process, parent, cancel

    def _started(self) -> None:
        """Hook: the worker process was (re)started (state tied to the old one is reset here)."""

    def ensure_started(self) -> dict:
        """Start the process if needed and wait for its "ready"; returns its info."""
        with self._lock:
            if not self.alive:
                self._process, self._conn, self._cancel = self._launch()
                self.info = {}
                self._started()
            conn = self._conn
        if not self.info:
            kind, info = self._recv(conn)
            if kind != "ready":
                raise RuntimeError(f"the {self.title} process answered {kind!r} instead of 'ready'")
            self.info = info
        return self.info

    # ------------------------------------------------------------------------------- requests
    def _recv(self, conn):
        try:
            return conn.recv()
        except (EOFError, OSError, AttributeError) as exc:  # AttributeError: no pipe (stopped)
            if self._killed.is_set():
                raise self.cancelled_error(f"the {self.request_noun} was cancelled") from None
            process = self._process
            if process is not None:
                process.join(1.0)  # reaped, so that its exit code is known
            code = process.exitcode if process is not None else None
            raise RuntimeError(f"the {self.title} process stopped unexpectedly (exit code {code})") from exc

    def exchange(self, kind: str, payload=None, notes: dict | None = None):
        """Send one request and read the answers up to its result (``done`` or ``cancelled``);
        ``notes[name](data)`` is called for each note on the way. Raises ``failed_error`` with the
        worker's one line, ``cancelled_error`` after :meth:`kill`."""
        conn = self._conn
        if self._killed.is_set():
            raise self.cancelled_error(f"the {self.request_noun} was cancelled")
        if conn is None:
            raise RuntimeError(f"cannot reach the {self.title} process: it is not running")
        try:
            conn.send((kind, payload))
        except (OSError, ValueError) as exc:
            if self._killed.is_set():
                raise self.cancelled_error(f"the {self.request_noun} was cancelled") from None
            raise RuntimeError(f"cannot reach the {self.title} process: {exc}") from exc
        notes = notes or {}
        while True:
            answer, data = self._recv(conn)
            if answer in ("done", "cancelled"):
                return data
            if answer == "error":
                raise self.failed_error(data)
            handler = notes.get(answer)
            if handler is not None:
                handler(data)

    # ----------------------------------------------------------------------------- cancelling
    def cancel_running(self) -> None:
        """Ask the running request to stop at its next check (the shared event; cooperative)."""
        if self._cancel is not None:
            self._cancel.set()

    def clear_cancel(self) -> None:
        """A new request may run: forget an earlier :meth:`kill` and :meth:`cancel_running`."""
        self._killed.clear()
        if self._cancel is not None:
            self._cancel.clear()

    @property
    def killed(self) -> bool:
        return self._killed.is_set()

    def kill(self) -> None:
        """Stop the process now: a blocked :meth:`exchange` raises ``cancelled_error``; the next
        request (after :meth:`clear_cancel`) starts a fresh process."""
        self._killed.set()
        with self._lock:
            process = self._process
            self._process = self._conn = None
            self.info = {}
        if process is not None:  # a request blocked on the pipe now reads EOF
            process.kill()
            process.join(5)

    def stop(self) -> None:
        """Ask the process to quit, wait ``quit_timeout`` seconds, then kill it."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
            self.info = {}
        if conn is not None:
            try:
                conn.send(("quit", None))
            except (OSError, ValueError):
                pass
        if process is not None:
            process.join(self.quit_timeout)
            if process.is_alive():
                process.kill()
                process.join(2)
        if conn is not None:
            conn.close()
