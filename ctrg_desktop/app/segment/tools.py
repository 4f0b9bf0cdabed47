"""Mouse tools of the Segment menu in the slice views, and the prompt markers they draw.

Each tool gets ``press / move / release(view, x, y)`` with widget positions from
:class:`~ctrg_desktop.app.interaction.slice_tools.SliceTools` (left button, tool active):

* positive / negative point: one click adds a point prompt on the view's slice;
* box prompt: drag a rectangle;
* brush / erase: paint into / erase from the chosen mask (a disc of ``brush_mm`` radius), one
  undo step per stroke.

2D slice coordinates follow :mod:`ctrg_desktop.segmentation.prompts`: ``x`` = column, ``y`` = row
of ``np.take(volume, index, axis)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.app.views.slice_actors import Polyline3D
from ctrg_desktop.segmentation.brush import disc, stroke
from ctrg_desktop.segmentation.prompts import PLANE_AXES
#: tool name -> menu text (the text, lower-cased, starts with the name)
SEGMENT_TOOLS = {"positive point": "Positive point", "negative point": "Negative point",
                 "box prompt": "Box prompt", "brush": "Brush", "erase": "Erase"}
SAM_TOOLS = ("positive point", "negative point", "box prompt")
POSITIVE, NEGATIVE, BOX = (0.2, 1.0, 0.3), (1.0, 0.25, 0.25), (1.0, 0.9, 0.2)


def slice_xy(view, x: float, y: float) -> tuple[float, float] | None:
    """Widget position -> (column, row) on the view's slice; None outside the slice."""
    volume = view.state.volume
    kji = volume.world_to_voxel(view.display_to_world(x, y))
    rows, cols = PLANE_AXES[view.axis]
    px, py = float(kji[cols]), float(kji[rows])
    if not (-0.5 <= px <= volume.shape[cols] - 0.5 and -0.5 <= py <= volume.shape[rows] - 0.5):
        return None
    return px, py


def slice_to_world(volume, axis: int, index: int, xy: np.ndarray) -> np.ndarray:
    """(n, 2) slice (x, y) of slice ``index`` along ``axis`` -> (n, 3) LPS points."""
    rows, cols = PLANE_AXES[axis]
    xy = np.asarray(xy, float).reshape(-1, 2)
    kji = np.zeros((len(xy), 3))
    kji[:, axis], kji[:, cols], kji[:, rows] = index, xy[:, 0], xy[:, 1]
    return volume.voxel_to_world(kji)


@dataclass
class PromptSession:
    """The prompts given on one slice for one mask (a new slice or mask starts a new session)."""

    mask: str | None
    view: str
    axis: int
    index: int
    window: tuple[float, float]
    points: list[tuple[float, float, bool]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None

    def matches(self, mask, view, window) -> bool:
        return (self.mask == mask and self.view == view.name and self.axis == view.axis
                and self.index == view.slice_index and self.window == window)


class PromptMarkers:
    """Point crosses and the box of the prompt session, drawn on the session's slice only."""

    def __init__(self, views):
        self.views = views
        self.lines = {name: Polyline3D(view.renderer, width=2.0) for name, view in views.items()}
        self.session: PromptSession | None = None
        self.drag_box: tuple | None = None  # (view name, (x0, y0, x1, y1)) while a box is dragged

    def update(self) -> None:
        for name, view in self.views.items():
            line = self.lines[name]
            segments, colours = self._segments(view)
            line.set_segments(segments, colours if len(segments) else None)
            line.actor.SetVisibility(len(segments) > 0)
            view.request_render()

    def _segments(self, view):
        volume, s = view.state.volume, self.session
        if volume is None:
            return np.zeros((0, 2, 3)), np.zeros((0, 3))
        lift = -view.dop * 0.35 * min(volume.spacing)
        segments, colours = [], []
        boxes = []
        if s is not None and s.view == view.name and s.index == view.slice_index and s.axis == view.axis:
            size = 2.5
            for x, y, positive in s.points:
                ends = [(x - size, y), (x + size, y), (x, y - size), (x, y + size)]
                if not positive:  # a negative point: a diagonal cross
                    ends = [(x - size, y - size), (x + size, y + size), (x - size, y + size), (x + size, y - size)]
                world = slice_to_world(volume, view.axis, view.slice_index, ends) + lift
                segments += [world[0:2], world[2:4]]
                colours += [POSITIVE if positive else NEGATIVE] * 2
            if s.box is not None:
                boxes.append(s.box)
        if self.drag_box is not None and self.drag_box[0] == view.name:
            boxes.append(self.drag_box[1])
        for x0, y0, x1, y1 in boxes:
            corners = [(x0 - 0.5, y0 - 0.5), (x1 + 0.5, y0 - 0.5), (x1 + 0.5, y1 + 0.5), (x0 - 0.5, y1 + 0.5)]
            world = slice_to_world(volume, view.axis, view.slice_index, corners) + lift
            for n in range(4):
                segments.append(np.stack([world[n], world[(n + 1) % 4]]))
                colours.append(BOX)
        return np.asarray(segments, float).reshape(-1, 2, 3), np.asarray(colours, float).reshape(-1, 3)


class PointTool:
    """Positive or negative point prompts."""

    def __init__(self, controller, positive: bool):
        self.controller, self.positive = controller, positive

    def press(self, view, x, y) -> None:
        xy = slice_xy(view, x, y)
        if xy is None:
            self.controller.window.status.message("Click inside the image to place a point")
            return
        self.controller.add_point(view, xy, self.positive)

    def move(self, view, x, y) -> None:
        pass

    def release(self, view, x, y) -> None:
        pass


class BoxTool:
    """Drag a box prompt."""

    def __init__(self, controller):
        self.controller = controller
        self.start = None

    def _box(self, view, x, y):
        xy = slice_xy(view, x, y)
        if xy is None or self.start is None:
            return None
        (ax, ay), (bx, by) = self.start, xy
        return (round(min(ax, bx)), round(min(ay, by)), round(max(ax, bx)), round(max(ay, by)))

    def press(self, view, x, y) -> None:
        self.start = slice_xy(view, x, y)

    def move(self, view, x, y) -> None:
        box = self._box(view, x, y)
        if box is not None:
            self.controller.markers.drag_box = (view.name, box)
            self.controller.markers.update()

    def release(self, view, x, y) -> None:
        box = self._box(view, x, y)
        self.start = None
        self.controller.markers.drag_box = None
        if box is None or box[2] - box[0] < 1 or box[3] - box[1] < 1:
            self.controller.markers.update()
            self.controller.window.status.message("Drag a box around the structure to segment")
            return
        self.controller.set_box(view, box)


class BrushTool:
    """Paint (``erase`` False) or erase a disc of ``controller.brush_mm`` radius along the drag."""

    def __init__(self, controller, erase: bool):
        self.controller, self.erase = controller, erase
        self.plane = None
        self.last = None

    def _radius(self, view) -> tuple[float, float]:
        rows, cols = PLANE_AXES[view.axis]
        spacing = view.state.volume.spacing
        mm = self.controller.brush_mm
        return mm / spacing[cols], mm / spacing[rows]

    def press(self, view, x, y) -> None:
        xy = slice_xy(view, x, y)
        self.plane = self.controller.begin_stroke(view, self.erase) if xy is not None else None
        if self.plane is None:
            return
        self.plane[disc(self.plane.shape, xy, self._radius(view))] = not self.erase
        self.last = xy
        self.controller.masks.touched()

    def move(self, view, x, y) -> None:
        if self.plane is None:
            return
        xy = slice_xy(view, x, y)
        if xy is None:
            return
        self.plane[stroke(self.plane.shape, self.last, xy, self._radius(view))] = not self.erase
        self.last = xy
        self.controller.masks.touched()

    def release(self, view, x, y) -> None:
        if self.plane is not None:
            self.move(view, x, y)
            self.plane = self.last = None
            self.controller.end_stroke()
