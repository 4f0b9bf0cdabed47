"""Measurement keys in the slice views: Delete, and Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y) when the
latest change made in the views was a measurement's.

The views' Ctrl+Z is the masks' (Segment > Undo mask edit). Both kinds of change are made in
the same views, so a reader expects Ctrl+Z to undo whichever came last: each measurement step
and each new mask edit gets a number from one clock
(:func:`ctrg_desktop.measurements.history.tick`); Ctrl+Z undoes the measurement step when its
number is the higher, else lets the mask action run. Ctrl+Shift+Z redoes a measurement step when
the last undo in the views was one. Delete (or Backspace) deletes the selected measurement.
This filter takes the key before the window's shortcuts (``ShortcutOverride``) only in those cases.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui

from ctrg_desktop.measurements.history import tick

Qt = QtCore.Qt
_UNDO, _REDO = QtGui.QKeySequence.StandardKey.Undo, QtGui.QKeySequence.StandardKey.Redo
_DELETE = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)


class MeasurementViewKeys(QtCore.QObject):
    """Installed on the slice views by :class:`~ctrg_desktop.app.measure.controller.MeasurementController`."""

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self._masks = None      # the mask set followed
        self._mask_top = 0      # highest mask state token seen (a higher one is a new edit)
        self._mask_last = 0     # the mask state seen last (a lower one: a mask undo)
        self._mask_clock: dict[int, int] = {}  # mask state token -> clock of the edit that made it
        self.last_undone = None  # "measure" or "mask": the kind of the last undo in the views
        for view in self.window.slice_views.values():
            view.installEventFilter(self)
        segmentation = getattr(self.window, "segmentation", None)
        if segmentation is not None and hasattr(segmentation, "masks_changed"):
            segmentation.masks_changed.connect(self.sync_masks)
        controller.history.listeners.append(self._on_measure_step)

    # --- which Ctrl+Z -------------------------------------------------------------------------
    def sync_masks(self) -> None:
        """Note a new mask edit (a state token above any seen) with the clock's next number."""
        masks = getattr(getattr(self.window, "segmentation", None), "masks", None)
        if masks is not self._masks:
            self._masks, self._mask_clock = masks, {}
            self._mask_top = self._mask_last = masks.state if masks is not None else 0
            return
        if masks is None:
            return
        if masks.state > self._mask_top:  # new edits (tokens are serials): each older than the next
            for token in range(self._mask_top + 1, masks.state + 1):
                self._mask_clock[token] = tick()
            self._mask_top = masks.state
            self.last_undone = None
        elif masks.state < self._mask_last:
            self.last_undone = "mask"
        self._mask_last = masks.state

    def _on_measure_step(self) -> None:
        self.sync_masks()  # a mask edit made before this step is older than it

    def undo_is_measurement(self) -> bool:
        """Whether Ctrl+Z in a view undoes a measurement step (module docstring)."""
        history = self.controller.history
        if not history.can_undo:
            return False
        self.sync_masks()
        masks = self._masks
        if masks is None or not masks.can_undo:
            return True
        return history.undo_steps[-1].clock > self._mask_clock.get(masks.state, 0)

    def redo_is_measurement(self) -> bool:
        history = self.controller.history
        masks = self._masks
        return history.can_redo and (self.last_undone == "measure" or masks is None or not masks.can_redo)

    def _wanted(self, event) -> str | None:
        """"undo", "redo" or "delete" when this key is the measurements', else None."""
        if event.matches(_UNDO):
            return "undo" if self.undo_is_measurement() else None
        ctrl_y = event.key() == Qt.Key.Key_Y and event.modifiers() == Qt.KeyboardModifier.ControlModifier
        if event.matches(_REDO) or ctrl_y:
            return "redo" if self.redo_is_measurement() else None
        if event.key() in _DELETE and not event.modifiers() and self.controller.selected is not None:
            return "delete"
        return None

    def eventFilter(self, obj, event):  # noqa: N802
        kind = event.type()
        if kind not in (QtCore.QEvent.Type.ShortcutOverride, QtCore.QEvent.Type.KeyPress):
            return False
        wanted = self._wanted(event)
        if wanted is None:
            return False
        if kind == QtCore.QEvent.Type.ShortcutOverride:
            event.accept()  # the key comes to the view as a key press, not to the masks' action
            return False
        if wanted == "delete":
            self.controller.delete()
        elif wanted == "undo":
            self.controller.undo()
            self.last_undone = "measure"
        else:
            self.controller.redo()
        return True
