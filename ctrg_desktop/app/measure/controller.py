"""Measurements in the main window (``window.measuring``).

:class:`MeasurementController` owns the open study's
:class:`~ctrg_desktop.measurements.MeasurementSet` and links it to the slice views' Measure (line)
and Ellipse tools, their drawing (:mod:`.overlay`) and the Measurements dock (:mod:`.panel`).
Several measurements per view, each labelled ``M1``, ``M2``... (renamed in the dock), shown on
the slice they were drawn on, with handles that a left drag moves (:mod:`.handles`; the value
follows live). Every add, edit, rename and delete is one step of :attr:`history` (Ctrl+Z /
Ctrl+Shift+Z in the dock, and in the views when it is the latest step there: :mod:`.view_keys`).
The window's editing layer saves them with the report, autosaves them (:mod:`.autosave`) and
exports them; ``changed`` tells it about every change.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.measure.files import MeasurementFiles
from ctrg_desktop.app.measure.handles import HandleGrabber
from ctrg_desktop.app.measure.overlay import MeasurementOverlays
from ctrg_desktop.app.measure.panel import MeasurementPanel
from ctrg_desktop.app.measure.tools import DragTool
from ctrg_desktop.app.measure.view_keys import MeasurementViewKeys
from ctrg_desktop.measurements import KINDS, MeasurementError, MeasurementSet, make_measurement
from ctrg_desktop.measurements.history import MeasurementHistory

Qt = QtCore.Qt


class MeasurementController(QtCore.QObject):
    """Signals: ``changed()`` after every added, deleted, renamed or replaced measurement;
    ``selection_changed(id)`` ("" for none)."""

    changed = QtCore.Signal()
    selection_changed = QtCore.Signal(str)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.volume = None  #: the study the measurements belong to
        self.measurements = MeasurementSet()
        self.history = MeasurementHistory(self.measurements)
        self.selected: str | None = None
        self.preview = None  #: the measurement being dragged (not in the set; an edited one has its id)
        self.tools = {"measure": DragTool(self, "line"), "ellipse": DragTool(self, "ellipse")}
        self.grabber = HandleGrabber(self)
        for view in window.slice_views.values():
            view.tools.handlers.update(self.tools)
            view.tools.grabbers.append(self.grabber.grab)
        self.overlays = MeasurementOverlays(window.slice_views, self)
        self.files = MeasurementFiles(self)  # the dock's Save... / Open...
        self.panel = MeasurementPanel(self)
        self.history.listeners.append(self.panel.refresh)  # Undo / Redo buttons
        self.state.volume_changed.connect(self._on_volume)
        self.state.cursor_changed.connect(lambda _old: self.overlays.update())
        self.view_keys = MeasurementViewKeys(self)  # Delete, Ctrl+Z / Ctrl+Shift+Z in the views

    def add_dock(self) -> None:
        """The Measurements dock, tabbed with the Layers dock."""
        window = self.window
        dock = QtWidgets.QDockWidget("Measurements", window)
        dock.setObjectName("dock-measurements")
        dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        if "Layers" in window.docks:
            window.tabifyDockWidget(window.docks["Layers"], dock)
        window.docks["Measurements"] = dock

    def show_dock(self) -> None:
        dock = self.window.docks.get("Measurements")
        if dock is not None:
            dock.show()
            dock.raise_()

    # --- the study's set ----------------------------------------------------------------
    def _on_volume(self) -> None:
        """Another study: a new, empty set on its grid."""
        volume = self.state.volume
        self.measurements.remove_listener(self._on_set_changed)
        self.volume, self.selected, self.preview = volume, None, None
        self.measurements = MeasurementSet(volume.shape, volume.spacing)
        self.measurements.add_listener(self._on_set_changed)
        listeners = self.history.listeners
        self.history = MeasurementHistory(self.measurements)
        self.history.listeners = listeners
        self.history.clear()
        self._on_set_changed("replaced", None)

    def _on_set_changed(self, change: str, measurement) -> None:
        if self.selected is not None and self.selected not in self.measurements:
            self.selected = None
        self.panel.refresh()
        self.overlays.update()
        self.changed.emit()

    def load(self, measurements, clean: bool = False) -> int:
        """Put ``measurements`` (read from a file or an autosave) in place of the study's; how many."""
        self.selected = None
        self.measurements.replace_all(measurements, clean=clean)
        self.history.clear()
        return len(self.measurements)

    # --- drawing ------------------------------------------------------------------------
    def set_preview(self, view, kind: str, points) -> None:
        """Show the measurement being dragged, with its live value (nothing while under a voxel)."""
        try:
            self.preview = make_measurement(self.volume, kind, view.name, view.slice_index, points, "")
            self.preview.label = self.measurements.next_label()
        except MeasurementError:
            self.preview = None
        self.overlays.update()

    def finish(self, view, kind: str, points):
        """Add the measurement dragged on ``view``; returns it (None when too small: said in the status bar)."""
        self.preview = None
        try:
            measurement = make_measurement(self.volume, kind, view.name, view.slice_index, points)
        except MeasurementError as exc:
            self.overlays.update()
            self.window.status.message(f"No measurement: {exc}")
            return None
        self.history.add(measurement)
        self.select(measurement.id, jump=False)
        if kind == "line":
            view.measured.emit(measurement.values["length_mm"])
        self.window.status.message(f"{measurement.label} ({KINDS[kind]}, {measurement.where().lower()}): "
                                   f"{measurement.summary()}")
        return measurement

    # --- the dock's actions ---------------------------------------------------------------
    def select(self, mid: str | None, jump: bool = True) -> None:
        """Highlight measurement ``mid`` (None: none); ``jump`` moves the views to its slice."""
        mid = mid if mid in self.measurements else None
        if mid != self.selected:
            self.selected = mid
            self.panel.select(mid)
            self.overlays.update()
            self.selection_changed.emit(mid or "")
        if jump and mid is not None:
            self.go_to(mid)

    def go_to(self, mid: str) -> None:
        """Move the linked cursor to the middle of ``mid`` on its slice (every view follows)."""
        m = self.measurements.get(mid)
        kji = self.volume.world_to_voxel(m.centre)
        kji[m.axis] = m.slice
        self.state.set_cursor(kji)

    def delete(self, mid: str | None = None) -> bool:
        """Delete ``mid`` (default: the selected one)."""
        mid = mid or self.selected
        if mid is None or mid not in self.measurements:
            self.window.status.message("Choose a measurement to delete in the Measurements list")
            return False
        removed = self.history.remove(mid)
        self.window.status.message(f"Deleted measurement {removed.label} (Ctrl+Z brings it back)")
        return True

    def rename(self, mid: str, label: str) -> bool:
        try:
            self.history.rename(mid, label)
        except MeasurementError as exc:
            self.window.status.message(str(exc))
            self.panel.refresh()
            return False
        return True

    # --- editing and history --------------------------------------------------------------
    def show_edit(self, measurement) -> None:
        """Show ``measurement`` (an edited copy, same id) in place of the stored one, value live."""
        self.preview = measurement
        self.overlays.update()
        self.window.status.message(f"{measurement.label}: {measurement.summary()}")

    def finish_edit(self, measurement) -> None:
        """The handle was let go: the edit becomes one undo step (nothing when unchanged)."""
        self.preview = None
        stored = self.measurements.get(measurement.id) if measurement.id in self.measurements else None
        if stored is None or (stored.points.tobytes() == measurement.points.tobytes()):
            self.overlays.update()
            return
        self.history.edit(measurement)
        self.window.status.message(f"{measurement.label} ({KINDS[measurement.kind]}): {measurement.summary()}")

    def undo(self) -> str | None:
        return self._step("undo")

    def redo(self) -> str | None:
        return self._step("redo")

    def _step(self, which: str) -> str | None:
        self.preview = None
        text = getattr(self.history, which)()
        self.window.status.message(f"{'Undone' if which == 'undo' else 'Redone'}: {text} (measurements)" if text
                                   else f"No measurement change to {which}")
        return text
