"""Autosave of the study's measurements beside the report autosave (``<study key>.measurements.json``).

Every change schedules a write at most :data:`DELAY_MS` later (a burst is written once; the
file is small, so it is written on the GUI thread, crash-safely). An autosave exists while the
measurements have changes not saved (with the report, or Save in the dock); back at the saved
state, or with none left, it is removed. The
:class:`~ctrg_desktop.app.editing.autosave_binding.AutosaveBinding` offers it back with the
report and the masks when the study opens again (after a crash, kill -9 included).
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.measurements.files import (autosave_path, pack_measurements, read_header, read_measurements,
                                             write_measurements)

DELAY_MS = 500


class MeasurementAutosave(QtCore.QObject):
    """Signals: ``saved(key, count)`` after a write, ``restored(key, count)``."""

    saved = QtCore.Signal(str, int)
    restored = QtCore.Signal(str, int)

    def __init__(self, binding):
        super().__init__(binding)
        self.binding = binding
        self.window = binding.window
        self.store = binding.store
        self.measurements = None
        self.key = ""
        self.last_error = ""
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.flush)
        self._last = None     # (id(set), state) on disk
        self._dropped = None  # (id(set), state) the reader discarded
        self._owned: set[str] = set()

    @property
    def controller(self):
        return getattr(self.window, "measuring", None)

    def path(self, key: str) -> Path:
        return autosave_path(self.store, key)

    def watch(self, measurements, key: str) -> None:
        """Follow ``measurements`` (study ``key``); the previous set's pending save is written first."""
        if measurements is not self.measurements:
            self.flush()
            self._dropped = self._last = None
        self.measurements, self.key = measurements, key

    def schedule(self) -> None:
        if self.measurements is not None and self.key and not self.timer.isActive():
            self.timer.start()

    def _token(self):
        return (id(self.measurements), self.measurements.state) if self.measurements is not None else None

    def flush(self) -> bool:
        """Write the measurements now when they changed since the last write; True when written."""
        self.timer.stop()
        measurements, key = self.measurements, self.key
        if measurements is None or not key or key in self.binding.held or self._token() == self._dropped:
            return False
        if not measurements.is_modified or not len(measurements):
            if key in self._owned:
                self.discard(key)
            return False
        if self._token() == self._last:
            return False
        label = Path(self.window.study_path).name if getattr(self.window, "study_path", None) else ""
        try:
            write_measurements(self.path(key), pack_measurements(measurements, extra={"label": label}))
        except (CtrgError, OSError) as exc:
            message = f"Cannot autosave the measurements: {exc}"
            if message != self.last_error:
                self.window.status.message(message)
            self.last_error = message
            return False
        self.last_error = ""
        self._last = self._token()
        self._owned.add(key)
        self.saved.emit(key, len(measurements))
        return True

    def discard(self, key: str) -> None:
        if key:
            self._owned.discard(key)
            self._last = None
            self.path(key).unlink(missing_ok=True)

    def drop(self) -> None:
        """The reader discarded the unsaved measurements: forget their autosave; this state is not written."""
        self.timer.stop()
        if self.measurements is not None:
            self._dropped = self._token()
            self.discard(self.key)

    def pending(self, key: str) -> dict | None:
        """``key``'s autosaved measurements file (saved, measurements, ...), or None."""
        try:
            return read_header(self.path(key))
        except (CtrgError, OSError):
            return None

    def restore(self, key: str) -> int:
        """Put ``key``'s autosaved measurements in place of the study's; how many (0: none or unreadable)."""
        controller = self.controller
        path = self.path(key)
        if controller is None or controller.volume is None or not path.is_file():
            return 0
        try:
            read = read_measurements(path, controller.volume.shape)
        except (CtrgError, OSError) as exc:
            self.window.status.message(f"Ignoring the autosaved measurements: {exc}")
            return 0
        controller.load(read, clean=False)  # unsaved work again, until saved
        self._owned.add(key)
        if controller.measurements is self.measurements:
            self._last = self._token()  # that state is the file already
        if read:
            controller.show_dock()
        self.restored.emit(key, len(read))
        return len(read)

    def decline(self, key: str) -> None:
        """Drop ``key``'s autosaved measurements (the reader chose Discard)."""
        self.discard(key)
        if key == self.key and self.measurements is not None and self.measurements.is_modified:
            self.schedule()

    def shutdown(self) -> None:
        """The window closes: write the last changes."""
        self.flush()
