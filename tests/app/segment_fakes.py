"""A stand-in for the segmenter worker in GUI tests: the real request handlers
(:class:`ctrg_desktop.workers.segmenting.SegmentServer`), the real pipe protocol and parent
(:class:`ctrg_desktop.app.segment.process.SegmenterProcess`), but the loop runs in a thread of the
test process and the "segmenter" thresholds the slice inside the prompt box after sleeping
``delay`` seconds per embedding (no torch, no weights, seconds instead of minutes)."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from types import SimpleNamespace

import numpy as np

from ctrg_desktop.app.segment.process import SegmenterProcess
from ctrg_desktop.segmentation.cache import EmbeddingCache, SliceKey
from ctrg_desktop.workers.pipe import answer_requests
from ctrg_desktop.workers.segmenting import SegmentServer


class ThresholdSegmenter:
    """Pixels under ``threshold`` HU inside the box (or around the positive points) are the mask."""

    name, kind, device = "threshold", "litemedsam", "cpu"
    spec = SimpleNamespace(title="threshold stand-in")

    def __init__(self, delay: float = 0.1, threshold: float = -500.0):
        self.delay, self.threshold = float(delay), float(threshold)
        self.cache = EmbeddingCache(128)
        self.encoder_calls = 0

    def slice_key(self, study, axis, index, window=None) -> SliceKey:
        window = (40.0, 400.0) if window is None else tuple(float(v) for v in window)
        return SliceKey(study, int(axis), int(index), window)

    def cached(self, key):
        return self.cache.get(key)

    def embed(self, image, window=None, *, key=None):
        full = key if isinstance(key, SliceKey) or key is None else self.slice_key(*key, window=window)

        def compute():
            time.sleep(self.delay)
            self.encoder_calls += 1
            return np.asarray(image, dtype=np.float32)

        return compute() if full is None else self.cache.get_or_compute(full, compute)

    def predict_scored(self, image, points=None, box=None):
        if box is None:
            xs = [x for x, _, positive in points or [] if positive]
            ys = [y for _, y, positive in points or [] if positive]
            box = (min(xs) - 8, min(ys) - 8, max(xs) + 8, max(ys) + 8)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        mask = np.zeros(image.shape, dtype=bool)
        region = (slice(max(y0, 0), y1 + 1), slice(max(x0, 0), x1 + 1))
        mask[region] = image[region] < self.threshold
        return SimpleNamespace(mask=mask, score=0.9, stability=1.0)


def _serve(conn, cancel, segmenter) -> None:
    """:func:`ctrg_desktop.workers.segmenting.serve` with ``segmenter`` already loaded (no torch)."""
    server = SegmentServer(conn, cancel)

    def load(_payload):
        server.segmenter = segmenter
        return {"name": segmenter.name, "kind": segmenter.kind, "title": segmenter.spec.title, "device": "cpu",
                "seconds": 0.0}

    answer_requests(conn, {**server.handlers(), "load": load}, ready={"cuda": False, "pid": 0})


class _ThreadHandle:
    """A worker thread seen as a process handle (it cannot be killed: it ends on "quit")."""

    exitcode = None

    def __init__(self, thread: threading.Thread):
        self.thread = thread

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout=None) -> None:
        self.thread.join(timeout)

    def kill(self) -> None:
        pass


class ThreadedSegmenterProcess(SegmenterProcess):
    """:class:`SegmenterProcess` whose worker loop is :func:`_serve` in a thread."""

    def __init__(self, delay: float = 0.1):
        super().__init__(torch_threads=1)
        self.segmenter_impl = ThresholdSegmenter(delay)

    def _launch(self):
        parent, child = mp.Pipe()
        cancel = threading.Event()
        thread = threading.Thread(target=_serve, args=(child, cancel, self.segmenter_impl),
                                  name="fake-segment-worker", daemon=True)
        thread.start()
        return _ThreadHandle(thread), parent, cancel
