"""What the reader sees while the segmenter works.

* :class:`LivePropagation`: a propagation's slices painted into the mask being built as the worker
  sends them (the views, the outlines, the Masks dock and, throttled, the 3D surface follow); when
  it ends the painted voxels are taken out again and the result goes in as one undo step, so
  Ctrl+Z removes the whole propagation. Cancel keeps the slices done so far: that is what the
  reader watched grow and chose to stop (one Ctrl+Z still removes them all).
* :class:`PromptProgress`: the status bar's progress bar and Cancel for a slow prompt ("Segment
  structure": starting the worker, embedding the slice, decoding). The encoder reports no
  progress of its own, so while a slice is embedded the bar moves with the time the last
  embedding took, and never past 90% before it is done.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtCore

from ctrg_desktop.segmentation.masks import slice_view

#: seconds a first request waits for the worker (spawn, torch import, weights) when nothing was measured yet
START_GUESS_S = 8.0
#: seconds a slice embedding takes when none was measured yet (LiteMedSAM, one CPU core)
EMBED_GUESS_S = 2.0


class LivePropagation:
    """The slices a running propagation has painted into ``mask`` (of ``masks``) so far."""

    def __init__(self, masks, mask, axis: int):
        self.masks, self.mask, self.axis = masks, mask, int(axis)
        self.added: np.ndarray | None = None  #: voxels painted in that were not set before
        self.slices: list[int] = []           #: slice indices painted, in arrival order
        self.done = 0                          #: slices the worker has visited
        self.planned = 0
        self.seconds = 0.0                     #: the worker's time since the propagation started

    @property
    def alive(self) -> bool:
        """The mask is still one of the study's (not deleted or undone meanwhile)."""
        return self.masks is not None and any(m is self.mask for m in self.masks)

    def per_slice(self) -> float | None:
        return self.seconds / self.done if self.done else None

    def paint(self, info: dict) -> bool:
        """Write one slice (``info`` from the worker: ``index``, ``mask``, ``done``, ``planned``,
        ``seconds``) into the mask, with no undo step; True when the mask changed."""
        self.done, self.planned = int(info.get("done", self.done)), int(info.get("planned", self.planned))
        self.seconds = float(info.get("seconds", self.seconds))
        if not self.alive:
            return False
        index = int(info["index"])
        plane = slice_view(self.mask.array, self.axis, index)
        new = np.asarray(info["mask"], dtype=bool)
        if new.shape != plane.shape:
            return False
        new = new & ~plane
        if not new.any():
            return False
        plane |= new
        if self.added is None:
            self.added = np.zeros(self.mask.array.shape, dtype=bool)
        slice_view(self.added, self.axis, index)[...] |= new
        self.slices.append(index)
        self.masks.changed.emit(mask=self.mask, what="data")
        return True

    def withdraw(self) -> np.ndarray | None:
        """Take the painted voxels out of the mask again (no event: the caller writes the result
        as one undo step at once); returns them (None when nothing was painted)."""
        added, self.added = self.added, None
        if added is not None:
            self.mask.array[added] = False
        return added


class PromptProgress(QtCore.QObject):
    """Progress of one slow prompt job in the status bar (``status``: the window's StatusPanel)."""

    TICK_MS = 250

    def __init__(self, status, parent=None):
        super().__init__(parent)
        self.status = status
        self.job = None
        self.title = ""
        self.stage = ""
        self.expected = self.embed_s = EMBED_GUESS_S
        self._since = 0.0
        self._base = 0.0
        self._shown = 0.0  # the bar never moves back
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def active(self) -> bool:
        return self.job is not None

    def start(self, job, title: str, starting: bool, embed_seconds: float | None) -> None:
        """Show the bar for ``job``; ``starting``: the worker must start and load first."""
        self.job, self.title = job, title
        self.embed_s = float(embed_seconds or EMBED_GUESS_S)
        self.expected = self.embed_s + (START_GUESS_S if starting else 0.0)
        self.stage = "starting the segmenter (first use)" if starting else "waiting for the segmenter"
        self._since, self._base, self._shown = time.perf_counter(), 0.0, 0.0
        self.status.start_progress(self._text())
        self._timer.start()

    def on_progress(self, job, done: int, planned: int) -> None:
        """The worker's steps: ``(0, 2)`` embedding the slice, ``(1, 2)`` decoding."""
        if job is not self.job:
            return
        if done == 0:  # the bar goes on from where the start left it
            self.stage, self._base, self.expected = "embedding the slice", max(self._shown, 0.05), self.embed_s
            self._since = time.perf_counter()
        else:
            self.stage, self._base = "drawing the mask", 0.95
        self._tick()

    def _elapsed(self) -> float:
        return time.perf_counter() - self._since

    def _fraction(self) -> float:
        if self._base >= 0.95:
            fraction = self._base
        else:
            fraction = min(0.9, self._base + (0.9 - self._base) * self._elapsed() / max(self.expected, 0.1))
        self._shown = max(self._shown, fraction)
        return self._shown

    def _text(self) -> str:
        return f"{self.title}: {self.stage} ({self._elapsed():.0f} s)... Esc or Cancel stops it"

    def _tick(self) -> None:
        if self.job is not None:
            self.status.progress(self._fraction(), self._text())

    def stop(self) -> None:
        if self.job is not None:
            self.job = None
            self._timer.stop()
            self.status.stop_progress()
