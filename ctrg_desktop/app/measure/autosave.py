"""Autosave of the study's measurements beside the report autosave (``<study key>.measurements.json``).

Every change schedules a write at most :data:`DELAY_MS` later (a burst is written once; the
file is small, so it is written on the GUI thread, crash-safely). An autosave exists while the
measurements have changes not saved (with the report, or Save in the dock); back at the saved
state, or with none left, it is removed. The
:class:`~ctrg_desktop.app.editing.autosave_binding.AutosaveBinding` offers it back with the
report and the masks when the study opens again (after a crash, kill -9 included). The
bookkeeping shared with the masks' autosave is in
:class:`~ctrg_desktop.app.editing.document_autosave.DocumentAutosave`.
"""

from __future__ import annotations

from pathlib import Path

from ctrg_desktop.app.editing.document_autosave import DELAY_MS, DocumentAutosave
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.measurements.files import (autosave_path, pack_measurements, read_header, read_measurements,
                                             write_measurements)

__all__ = ["DELAY_MS", "MeasurementAutosave"]


class MeasurementAutosave(DocumentAutosave):
    """Signals: ``saved(key, count)`` after a write, ``restored(key, count)``."""

    noun = "measurements"

    @property
    def measurements(self):
        """The measurement set followed (:meth:`watch`)."""
        return self.document

    @measurements.setter
    def measurements(self, measurements) -> None:
        self.document = measurements

    @property
    def controller(self):
        return getattr(self.window, "measuring", None)

    # --- DocumentAutosave hooks ----------------------------------------------------------------
    def path(self, key: str) -> Path:
        return autosave_path(self.store, key)

    def _target(self):
        return self.controller

    def _current(self, controller):
        return controller.measurements

    def _shape(self, controller):
        return controller.volume.shape if controller.volume is not None else None

    def _read(self, path: Path, shape):
        return read_measurements(path, shape)

    def _load(self, controller, read) -> None:
        controller.load(read, clean=False)

    def _is_empty(self, measurements) -> bool:
        return not len(measurements)

    def _save(self, key: str, measurements, label: str) -> bool:
        """Written here (a small file); True when written."""
        try:
            write_measurements(self.path(key), pack_measurements(measurements, extra={"label": label}))
        except (CtrgError, OSError) as exc:
            self._failed(f"Cannot autosave the measurements: {exc}")
            return False
        self._last = self._token()
        self._owned.add(key)
        self._succeeded(key, len(measurements))
        return True

    def _remove(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def pending(self, key: str) -> dict | None:
        """``key``'s autosaved measurements file (saved, measurements, ...), or None."""
        try:
            return read_header(self.path(key))
        except (CtrgError, OSError):
            return None
