"""Measurements files from the Measurements dock: Save... and Open... (``*.measurements.json``,
:mod:`ctrg_desktop.measurements.files`). A save marks the measurements clean, so their autosave
goes; opening a file replaces the study's measurements (asking first when they are unsaved)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.measurements.files import SUFFIX, pack_measurements, read_measurements, write_measurements

FILE_FILTER = f"Measurements (*{SUFFIX});;All files (*)"


class MeasurementFiles(QtCore.QObject):
    """Signals: ``saved(path)`` after a save, ``opened(path)`` after an open."""

    saved = QtCore.Signal(object)
    opened = QtCore.Signal(object)

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self.path: Path | None = None  #: the file saved or opened last

    def _start(self) -> str:
        return str(self.path or Path(self.window.settings["last_folder"] or ".") / f"measurements{SUFFIX}")

    def choose(self) -> Path | None:
        """Save...: ask for a file name, then save."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Save measurements", self._start(), FILE_FILTER)
        return self.save(Path(path)) if path else None

    def choose_to_open(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open measurements", self._start(), FILE_FILTER)
        if path:
            self.open(Path(path))

    def save(self, path) -> Path | None:
        """Write the study's measurements to ``path``; the path, or None (the problem is shown)."""
        measurements = self.controller.measurements
        if not len(measurements):
            self.window.show_error("No measurement to save: draw one with the Measure or Ellipse tool first")
            return None
        state = measurements.state
        label = Path(self.window.study_path).name if getattr(self.window, "study_path", None) else ""
        try:
            written = write_measurements(path, pack_measurements(measurements, extra={"label": label}))
        except (CtrgError, OSError) as exc:
            self.window.show_error(f"Cannot save the measurements: {exc}")
            return None
        measurements.mark_clean(state)
        self.path = written
        self.saved_now()
        self.window.status.message(f"Saved {len(measurements)} measurement(s) to {written}")
        self.saved.emit(written)
        return written

    def saved_now(self) -> None:
        """The measurements are on disk: their autosave goes."""
        editing = getattr(self.window, "editing", None)
        if editing is not None:
            editing.autosave.measurements.flush()
            editing._update_state()

    def open(self, path) -> bool:
        """Replace the study's measurements with those of ``path`` (asks first when unsaved)."""
        volume = self.controller.volume
        if volume is None:
            self.window.show_error("Open a study before opening measurements")
            return False
        try:
            read = read_measurements(path, volume.shape)
        except (CtrgError, OSError) as exc:
            self.window.show_error(f"Cannot open the measurements {Path(path).name}: {exc}")
            return False

        def load() -> None:
            self.controller.load(read, clean=True)
            self.path = Path(path)
            self.controller.show_dock()
            self.window.status.message(f"Opened {len(read)} measurement(s) from {Path(path).name}")
            self.opened.emit(Path(path))

        editing = getattr(self.window, "editing", None)
        if editing is None:
            load()
            return True
        return editing.prompt.confirm("Opening other measurements replaces them", load, report=False, masks=False,
                                      measurements=True)

    def load_beside(self, path) -> bool:
        """Load the measurements saved beside a report that was opened (clean: they are saved)."""
        try:
            read = read_measurements(path, self.controller.volume.shape)
        except (CtrgError, OSError) as exc:
            self.window.show_error(f"Cannot open the measurements saved with the report: {exc}")
            return False
        self.controller.load(read, clean=True)
        self.path = Path(path)
        return True
