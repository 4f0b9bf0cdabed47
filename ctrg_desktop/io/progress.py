"""Progress reporting and cancellation for long reads (callbacks supplied by the CLI or GUI)."""

from __future__ import annotations

from typing import Callable

from ctrg_desktop.errors import LoadCancelled

ProgressCallback = Callable[[float, str], None]
CancelCallback = Callable[[], bool]


class Reporter:
    """Maps a stage's ``done / total`` onto the caller's ``[start, stop]`` share of 0..1.

    Every call checks ``cancel`` (raising :class:`LoadCancelled`); ``progress`` is called at
    most about 100 times per stage so a GUI callback stays cheap.
    """

    def __init__(self, progress: ProgressCallback | None = None, cancel: CancelCallback | None = None,
                 start: float = 0.0, stop: float = 1.0):
        self._progress = progress
        self._cancel = cancel
        self._start = start
        self._stop = stop
        self._last = -1.0

    def stage(self, start: float, stop: float) -> "Reporter":
        """A reporter for the sub-range ``[start, stop]`` (fractions of this reporter's range)."""
        span = self._stop - self._start
        return Reporter(self._progress, self._cancel, self._start + start * span,
                        self._start + stop * span)

    def __call__(self, done: float, total: float, message: str) -> None:
        if self._cancel is not None and self._cancel():
            raise LoadCancelled("loading was cancelled")
        if self._progress is None:
            return
        fraction = self._start + (self._stop - self._start) * (done / total if total else 1.0)
        if fraction - self._last >= 0.01 or done >= total:
            self._last = fraction
            self._progress(min(max(fraction, 0.0), 1.0), message)
