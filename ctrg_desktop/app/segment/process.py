"""The segmenter worker process (no Qt): holds LiteMedSAM and its embedding cache.

Why a process: loading the segmenter in a thread of the GUI process stalled the Qt event loop
for about 500 ms (imports and weight loading hold the GIL), and torch would otherwise enter the
GUI process. The process is spawned once, loads the segmenter once, keeps the open study (in
shared memory, no copy) and every slice embedding it computed (an LRU cache), and answers one
request at a time.

Protocol over a ``multiprocessing`` pipe, parent -> child: ``(kind, payload)`` with kind
``load`` (segmenter name, device), ``study`` (:class:`StudyRef`), ``embed``, ``predict``,
``patches``, ``propagate`` (dicts, see :func:`serve`) or ``quit``; child -> parent:
``("ready", info)`` once, then per request optional ``("progress", (done, planned))`` and one
``("done", result)``, ``("cancelled", result)`` or ``("error", line)``. Masks travel packed
(``np.packbits``). A propagation stops at the next slice when the shared ``cancel`` event is set.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

#: the worker runs at a lower CPU priority than the GUI (POSIX nice increment)
NICE = 5


@dataclass(frozen=True)
class StudyRef:
    """The open study in shared memory: ``key`` names it in the embedding cache."""

    key: str
    shm_name: str
    shape: tuple[int, int, int]
    dtype: str


def pack(mask: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    """A bool array as (shape, packed bits) for the pipe."""
    mask = np.asarray(mask, dtype=bool)
    return tuple(mask.shape), np.packbits(mask, axis=None).tobytes()


def unpack(packed) -> np.ndarray:
    shape, bits = packed
    count = int(np.prod(shape))
    return np.unpackbits(np.frombuffer(bits, np.uint8), count=count).astype(bool).reshape(shape)


def one_line(exc: BaseException) -> str:
    """An exception as one readable line (user errors as they are, others with their type)."""
    from ctrg_desktop.errors import CtrgError

    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, CtrgError) else f"{type(exc).__name__}: {text}"


# ------------------------------------------------------------------------------------------ child

class _Child:
    """State of the worker: the segmenter, the study, the request handlers."""

    def __init__(self, conn, cancel):
        self.conn, self.cancel = conn, cancel
        self.segmenter = None
        self.study: StudyRef | None = None
        self.volume = None
        self._block = None

    def load(self, payload) -> dict:
        from ctrg_desktop.segmentation import load_segmenter

        name, device = payload
        start = time.perf_counter()
        segmenter = load_segmenter(name, device=device)
        self.segmenter = segmenter
        return {"name": segmenter.name, "kind": segmenter.kind, "title": segmenter.spec.title,
                "device": str(segmenter.device), "seconds": time.perf_counter() - start}

    def set_study(self, ref: StudyRef) -> dict:
        if self.study is not None and self.segmenter is not None and ref.key != self.study.key:
            self.segmenter.cache.discard(self.study.key)
        old = self._block
        block = shared_memory.SharedMemory(name=ref.shm_name)
        self.volume = np.ndarray(ref.shape, np.dtype(ref.dtype), buffer=block.buf)
        self._block, self.study = block, ref
        if old is not None:
            old.close()
        return {"key": ref.key}

    def _need(self):
        if self.segmenter is None:
            raise RuntimeError("no segmenter is loaded in the worker")
        if self.volume is None:
            raise RuntimeError("no study was sent to the worker")
        return self.segmenter

    def _embedding(self, p: dict):
        from ctrg_desktop.segmentation import take_slice

        seg = self._need()
        key = seg.slice_key(self.study.key, p["axis"], p["index"], p.get("window"))
        found = seg.cached(key)
        if found is not None:
            return found, 0.0, True
        start = time.perf_counter()
        emb = seg.embed(take_slice(self.volume, p["axis"], p["index"]), key.window, key=key)
        return emb, time.perf_counter() - start, False

    def embed(self, p: dict) -> dict:
        _, seconds, cached = self._embedding(p)
        return {"seconds": seconds, "cached": cached}

    def predict(self, p: dict) -> dict:
        emb, embed_s, cached = self._embedding(p)
        start = time.perf_counter()
        mask, score = _predict(self.segmenter, emb, p.get("points") or None, p.get("box"))
        return {"mask": pack(mask), "score": score, "embed_seconds": embed_s, "cached": cached,
                "predict_seconds": time.perf_counter() - start, "box": p.get("box"), "points": p.get("points")}

    def patches(self, p: dict) -> dict:
        """A mask from a structure's top patches on one slice (no prompt: ``mask`` None)."""
        from ctrg_desktop.segmentation import prompts_from_patches

        self._need()
        prompt = prompts_from_patches(p["top_patches"], p["axis"], p["index"], self.volume.shape)
        if not prompt:
            return {"mask": None, "box": None, "points": [], "patches": 0}
        out = self.predict({**p, "box": prompt.box, "points": prompt.points})
        out["patches"] = len(prompt.patches)
        return out

    def propagate(self, p: dict) -> dict:
        from ctrg_desktop.segmentation import PropagationCancelled, propagate

        seg = self._need()
        start = time.perf_counter()
        calls = seg.encoder_calls
        result = {"cancelled": False}
        try:
            mask = propagate(self.volume, p["axis"], p["index"], unpack(p["start_mask"]), seg,
                             window=p.get("window"), study_key=self.study.key,
                             max_slices=p.get("max_slices", 64), use_points=p.get("use_points", False),
                             progress=lambda done, planned: self.conn.send(("progress", (done, planned))),
                             cancel=self.cancel.is_set)
        except PropagationCancelled as exc:
            mask, result["cancelled"] = exc.mask, True
        result.update(mask=pack(mask), seconds=time.perf_counter() - start, embedded=seg.encoder_calls - calls)
        return result


def _predict(segmenter, embedding, points, box):
    """(mask, the decoder's predicted IoU or None) of one prompt."""
    scored = getattr(segmenter, "predict_scored", None)
    if scored is None:
        return segmenter.predict(embedding, points=points, box=box), None
    result = scored(embedding, points=points, box=box)
    return result.mask, float(result.score)


def serve(conn, cancel, torch_threads: int | None = None) -> None:
    """Child main loop: answer requests until "quit" or the pipe closes."""
    import torch

    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    cuda = bool(torch.cuda.is_available())
    conn.send(("ready", {"cuda": cuda, "pid": os.getpid()}))
    child = _Child(conn, cancel)
    handlers = {"load": child.load, "study": child.set_study, "embed": child.embed, "predict": child.predict,
                "patches": child.patches, "propagate": child.propagate}
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return
        if kind == "quit":
            return
        try:
            handler = handlers.get(kind)
            if handler is None:
                raise RuntimeError(f"unknown request {kind!r}")
            result = handler(payload)
            conn.send(("cancelled" if isinstance(result, dict) and result.get("cancelled") else "done", result))
        except Exception as exc:  # noqa: BLE001 -- every failure goes back as one line
            conn.send(("error", one_line(exc)))


def _child_main(conn, cancel, torch_threads) -> None:
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
            torch_threads = max(1, (os.cpu_count() or 2) - 1)
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

    def _exchange(self, kind, payload, on_progress=None):
        try:
            self._conn.send((kind, payload))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"cannot reach the segmenter process: {exc}") from exc
        while True:
            answer, result = self._recv()
            if answer == "progress":
                if on_progress is not None:
                    on_progress(*result)
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

    def request(self, kind: str, payload: dict, on_progress=None):
        """Run one request (starting the worker and sending the study first when needed)."""
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
            return self._exchange(kind, payload, on_progress)

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
