"""Read studies off the GUI thread, with progress and cancel, and prepare the 3D copy."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6 import QtCore

from ctrg_desktop.errors import CtrgError, LoadCancelled
from ctrg_desktop.io.volume import Volume

#: the 3D view renders a copy subsampled to at most this many voxels per axis
MAX_3D_DIM = 192


def stride_for_3d(shape, max_dim: int = MAX_3D_DIM) -> tuple[int, int, int]:
    """Integer subsampling per axis so every axis has at most ``max_dim`` samples."""
    return tuple(max(1, int(np.ceil(n / max_dim))) for n in shape)


def array_for_3d(array: np.ndarray, max_dim: int = MAX_3D_DIM) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``(array, stride)``: the array itself when small enough, else a subsampled copy."""
    stride = stride_for_3d(array.shape, max_dim)
    if stride == (1, 1, 1):
        return array, stride
    return np.ascontiguousarray(array[::stride[0], ::stride[1], ::stride[2]]), stride


@dataclass
class LoadResult:
    path: Path
    series_uid: str | None
    volume: Volume | None = None
    array_3d: np.ndarray | None = None
    stride_3d: tuple[int, int, int] = (1, 1, 1)
    error: Exception | None = None
    seconds: float = 0.0
    summary: dict | None = None
    #: set by the window when it has shown the slices: the loader then fills ``array_3d`` and
    #: ``summary`` (so that work does not compete with the first renders for the CPU)
    extras_wanted: threading.Event = field(default_factory=threading.Event)
    #: set once ``array_3d`` and ``summary`` are filled
    extras_ready: threading.Event = field(default_factory=threading.Event)

    @property
    def ok(self) -> bool:
        return self.volume is not None


class StudyLoader(QtCore.QObject):
    """``load(path)`` starts a worker thread; ``progress(fraction, message)`` and ``finished(LoadResult)``
    arrive on the GUI thread. ``cancel()`` makes the reader raise :class:`LoadCancelled`."""

    progress = QtCore.Signal(float, str)
    finished = QtCore.Signal(object)

    def __init__(self, parent=None, reader=None):
        super().__init__(parent)
        self._reader = reader
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: LoadResult | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def load(self, path, series_uid: str | None = None) -> LoadResult:
        """Start reading; the returned object is the one ``finished`` will carry."""
        if self.busy:
            raise RuntimeError("a study is already loading; cancel it first")
        self._cancel = threading.Event()
        result = LoadResult(Path(path), series_uid)
        self._result = result
        self._thread = threading.Thread(target=self._work, args=(result, self._cancel),
                                        name="ctrg-study-loader", daemon=True)
        self._thread.start()
        return result

    def cancel(self) -> None:
        self._cancel.set()
        if self._result is not None:
            self._result.extras_wanted.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _throttled_progress(self, interval: float = 0.1):
        """A progress callback emitting at most every ``interval`` s (each emit wakes the GUI)."""
        last = [0.0]

        def report(fraction: float, message: str) -> None:
            now = time.perf_counter()
            if now - last[0] >= interval:
                last[0] = now
                self.progress.emit(float(fraction), str(message))
        return report

    def _work(self, result: LoadResult, cancel: threading.Event) -> None:
        start = time.perf_counter()
        try:
            read = self._reader or _read_study
            volume = read(result.path, series_uid=result.series_uid, progress=self._throttled_progress(),
                          cancel=cancel.is_set)
            if cancel.is_set():
                raise LoadCancelled("loading was cancelled")
            result.volume = volume
        except (CtrgError, OSError, ValueError, RuntimeError, MemoryError) as exc:
            result.error = exc
        result.seconds = time.perf_counter() - start
        self.finished.emit(result)  # the window shows the slices, then asks for the extras
        try:
            if result.volume is not None and result.extras_wanted.wait(5.0) and not cancel.is_set():
                result.array_3d, result.stride_3d = array_for_3d(result.volume.array)
                result.summary = result.volume.summary()
        except MemoryError:
            result.array_3d = None
        finally:
            result.extras_ready.set()


def _read_study(path, series_uid=None, progress=None, cancel=None) -> Volume:
    from ctrg_desktop.io.readers import read_study

    return read_study(path, series_uid=series_uid, progress=progress, cancel=cancel)
