"""The Measure (line) and Ellipse tools of the slice views: drag from one end (corner) to the other.

Each gets ``press / move / release(view, x, y)`` from
:class:`~ctrg_desktop.app.interaction.slice_tools.SliceTools` (left button, tool active); while
dragging the controller shows a preview with its live value, the release adds the measurement.
"""

from __future__ import annotations


class DragTool:
    """A measurement of ``kind`` ("line" or "ellipse") between the press and the release."""

    def __init__(self, controller, kind: str):
        self.controller, self.kind = controller, kind
        self.start = None  # LPS point of the press

    def press(self, view, x, y) -> None:
        self.start = view.display_to_world(x, y)
        self.controller.set_preview(view, self.kind, (self.start, self.start))

    def move(self, view, x, y) -> None:
        if self.start is not None:
            self.controller.set_preview(view, self.kind, (self.start, view.display_to_world(x, y)))

    def release(self, view, x, y) -> None:
        if self.start is None:
            return
        points, self.start = (self.start, view.display_to_world(x, y)), None
        self.controller.finish(view, self.kind, points)
