"""Editing a measurement with the mouse: a left press on one of its handles drags that handle.

The handles (:func:`ctrg_desktop.measurements.editing.handles`: a line's ends and middle, an
ellipse's four axis ends and centre) of the measurements shown on a view's slice are grabbed
within :data:`GRAB_PX` screen pixels while the Navigate, Measure or Ellipse tool is active (the
Window tool and the segmentation tools keep their clicks; the selected measurement's handles
win over another's at the same place). While dragging, the measurement is redrawn with its new
value (the controller's preview); the release makes the edit one undo step.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.app.measure.overlay import half_thickness
from ctrg_desktop.measurements import MeasurementError
from ctrg_desktop.measurements.editing import edited, handles, moved_points

#: how near (logical screen pixels) a press must be to a handle to grab it
GRAB_PX = 8.0
#: the tools whose left press may grab a handle
EDIT_TOOLS = ("navigate", "measure", "ellipse")


class HandleDrag:
    """One handle being dragged: ``press / move / release(view, x, y)`` as the slice tools call them."""

    def __init__(self, controller, measurement, handle: str, start):
        self.controller, self.measurement, self.handle = controller, measurement, handle
        self.start = np.asarray(start, float)

    def _moved(self, view, x, y):
        volume = self.controller.volume
        try:
            points = moved_points(volume, self.measurement, self.handle, self.start, view.display_to_world(x, y))
            return edited(volume, self.measurement, points)
        except MeasurementError:
            return None  # smaller than a voxel: the last good shape stays

    def press(self, view, x, y) -> None:
        self.controller.select(self.measurement.id, jump=False)

    def move(self, view, x, y) -> None:
        moved = self._moved(view, x, y)
        if moved is not None:
            self.controller.show_edit(moved)

    def release(self, view, x, y) -> None:
        moved = self._moved(view, x, y)
        preview = self.controller.preview
        if moved is None and preview is not None and preview.id == self.measurement.id:
            moved = preview
        self.controller.finish_edit(moved if moved is not None else self.measurement)


class HandleGrabber:
    """``grab(view, x, y)``: a :class:`HandleDrag` when the press is on a handle, else None."""

    def __init__(self, controller):
        self.controller = controller

    def shown(self, view) -> list:
        """The measurements drawn on ``view``'s slice now (the selected one first)."""
        controller = self.controller
        volume = controller.volume
        if volume is None or view.state.volume is not volume:
            return []
        shown = controller.measurements.on_slice(view.name, view.slice_index, volume.spacing[view.axis],
                                                 half_thickness(view))
        return sorted(shown, key=lambda m: m.id != controller.selected)

    def nearest(self, view, x: float, y: float):
        """(measurement, handle name, handle LPS point) within :data:`GRAB_PX` of (x, y), or None."""
        best, best_d = None, GRAB_PX
        for m in self.shown(view):
            for name, point in handles(self.controller.volume, m).items():
                hx, hy = view.world_to_display(point)
                d = float(np.hypot(hx - x, hy - y))
                if d <= best_d - 1e-9:
                    best, best_d = (m, name, point), d
        return best

    def grab(self, view, x: float, y: float):
        if view.state.tool not in EDIT_TOOLS:
            return None
        found = self.nearest(view, x, y)
        if found is None:
            return None
        measurement, name, _ = found
        return HandleDrag(self.controller, measurement, name, view.display_to_world(x, y))
