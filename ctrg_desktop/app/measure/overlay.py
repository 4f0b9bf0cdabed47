"""Measurements drawn in the slice views: lines and ellipses in world coordinates, each with its
label and value beside it (right of the measurement, or left where the view ends), shown on the
slice they were drawn on (or within half a slice, or half the thick slab, of it); the selected
one in yellow, the one being dragged too. Each shows its handles (:mod:`.handles`) as dots of
:data:`HANDLE_PX` screen pixels.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkCoordinate, vtkPolyDataMapper, vtkTextActor

from ctrg_desktop.app.views.slice_actors import Polyline3D, text_actor
from ctrg_desktop.measurements.editing import handles
from ctrg_desktop.measurements.geometry import ellipse_outline

COLOUR = (0.25, 1.0, 1.0)
SELECTED = (1.0, 0.95, 0.25)
LABEL_GAP = 10.0  #: display pixels between a measurement and its label
HANDLE_PX = 6.0  #: size of a handle's dot (screen pixels)


class Dots:
    """Dots of a fixed screen size at LPS points, one colour each (the handles)."""

    def __init__(self, renderer, size: float = HANDLE_PX):
        self.poly = vtkPolyData()
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(self.poly)
        self.actor = vtkActor()
        self.actor.SetMapper(mapper)
        self.actor.GetProperty().SetPointSize(size)
        self.actor.GetProperty().LightingOff()
        self.actor.PickableOff()
        self.actor.SetVisibility(False)
        renderer.AddActor(self.actor)
        self.points = np.zeros((0, 3))

    def set(self, points, colours) -> None:
        self.points = np.asarray(points, float).reshape(-1, 3)
        vtk_points = vtkPoints()
        vtk_points.SetData(numpy_to_vtk(np.ascontiguousarray(self.points), deep=1))
        cells = vtkCellArray()
        for n in range(len(self.points)):
            cells.InsertNextCell(1)
            cells.InsertCellPoint(n)
        rgb = np.clip(np.round(np.asarray(colours, float).reshape(-1, 3) * 255), 0, 255).astype(np.uint8)
        self.poly.SetPoints(vtk_points)
        self.poly.SetVerts(cells)
        self.poly.GetPointData().SetScalars(numpy_to_vtk(rgb, deep=1))
        self.poly.Modified()
        self.actor.SetVisibility(bool(len(self.points)))


def screen_text(measurement) -> str:
    """``M1  45.3 mm``, or the label over the ellipse's statistics (one value per line)."""
    v = measurement.values
    if measurement.kind == "line":
        return f"{measurement.label}  {v['length_mm']:.1f} mm"
    lines = [measurement.label]
    if v.get("voxels"):
        lines += [f"mean {v['mean']:.1f} HU  SD {v['sd']:.1f}", f"min {v['minimum']:.0f}  max {v['maximum']:.0f} HU"]
    lines.append(f"area {v['area_mm2']:.1f} mm\u00b2")
    return "\n".join(lines)


def half_thickness(view) -> float | None:
    """Half the view's thick slab in mm while one is on (None: half a slice)."""
    settings = getattr(getattr(view, "slab", None), "settings", None)
    if settings is not None and getattr(settings, "active", False):
        return float(settings.thickness_mm) / 2.0
    return None


class Label:
    """A text beside a measurement: right of its right-most point, or left of its left-most one
    when the text would leave the view (:meth:`place`, before each render)."""

    def __init__(self, renderer):
        self.renderer = renderer
        self.actor: vtkTextActor = text_actor(13)
        prop = self.actor.GetTextProperty()
        prop.SetVerticalJustificationToCentered()
        prop.SetBackgroundColor(0.0, 0.0, 0.0)
        prop.SetBackgroundOpacity(0.45)
        self.anchor = vtkCoordinate()
        self.anchor.SetCoordinateSystemToWorld()
        self.actor.GetPositionCoordinate().SetReferenceCoordinate(self.anchor)
        self.actor.PickableOff()
        renderer.AddViewProp(self.actor)
        self.ends = (np.zeros(3), np.zeros(3))  # (right-most, left-most) world points

    def set(self, text: str, right, left, colour) -> None:
        if self.actor.GetInput() != text:
            self.actor.SetInput(text)
        self.ends = (np.asarray(right, float), np.asarray(left, float))
        self.actor.GetTextProperty().SetColor(*colour)
        self.actor.SetVisibility(True)
        self.place()

    def place(self) -> None:
        """Right of the measurement when the text fits in the view, else left of it."""
        renderer, prop = self.renderer, self.actor.GetTextProperty()
        self.anchor.SetValue(*self.ends[0])
        x = self.anchor.GetComputedDoubleDisplayValue(renderer)[0]
        box = [0.0] * 4
        self.actor.GetBoundingBox(renderer, box)
        right = x + LABEL_GAP + (box[1] - box[0]) <= renderer.GetSize()[0] - 2
        if not right:
            self.anchor.SetValue(*self.ends[1])
        prop.SetJustification(0 if right else 2)
        self.actor.SetPosition(LABEL_GAP if right else -LABEL_GAP, 0.0)


class ViewMeasurements:
    """The measurement lines and labels of one slice view."""

    def __init__(self, view):
        self.view = view
        self.lines = Polyline3D(view.renderer, colour=COLOUR, width=2.0)
        self.lines.actor.SetVisibility(False)
        self.dots = Dots(view.renderer)
        self.labels: list[Label] = []
        self._drawn = None  # what is on screen now (skips rebuilding while scrolling)
        view.renderer.AddObserver("StartEvent", lambda *_: self._place_labels())

    def _place_labels(self) -> None:
        """Before each render (zoom and pan move the labels): each on the side where it fits."""
        for label in self.labels:
            if label.actor.GetVisibility():
                label.place()

    def show(self, items, volume) -> bool:
        """Draw ``items`` ((measurement, colour) pairs); True when something changed."""
        view = self.view
        key = tuple((m.id, m.label, m.slice, m.points.tobytes(), tuple(sorted(m.values.items())), colour)
                    for m, colour in items)
        if key == self._drawn:
            return False
        self._drawn = key
        if not items:
            for label in self.labels:
                label.actor.SetVisibility(False)
            self.lines.actor.SetVisibility(False)
            self.dots.set(np.zeros((0, 3)), np.zeros((0, 3)))
            return True
        lift = -view.dop * 0.3 * min(volume.spacing)
        right = np.cross(view.dop, np.asarray(view.renderer.GetActiveCamera().GetViewUp()))
        segments, colours, dots, dot_colours = [], [], [], []
        for n, (m, colour) in enumerate(items):
            ends = list(handles(volume, m).values())
            dots += ends
            dot_colours += [colour] * len(ends)
            if m.kind == "line":
                outline = np.asarray(m.points, float).reshape(2, 3)
                segments.append(outline)
                colours.append(colour)
            else:
                outline = ellipse_outline(volume, m.axis, m.slice, m.points)
                segments += list(np.stack([outline, np.roll(outline, -1, axis=0)], axis=1))
                colours += [colour] * len(outline)
            if n == len(self.labels):
                self.labels.append(Label(view.renderer))
            along = outline @ right
            self.labels[n].set(screen_text(m), outline[int(np.argmax(along))] + lift,
                               outline[int(np.argmin(along))] + lift, colour)
        for label in self.labels[len(items):]:
            label.actor.SetVisibility(False)
        if segments:
            self.lines.set_segments(np.asarray(segments) + lift, np.asarray(colours))
        self.lines.actor.SetVisibility(bool(segments))
        self.dots.set(np.asarray(dots) + 1.2 * lift, dot_colours)
        return True

    def clear(self) -> bool:
        return self.show([], None)


class MeasurementOverlays:
    """Every slice view's measurements, redrawn from the controller (:meth:`update`)."""

    def __init__(self, views, controller):
        self.controller = controller
        self.views = {name: ViewMeasurements(view) for name, view in views.items()}
        self._slabs: set[int] = set()

    def update(self) -> None:
        controller = self.controller
        volume = controller.volume
        for name, drawn in self.views.items():
            view = drawn.view
            self._follow_slab(view)
            if volume is None or view.state.volume is not volume:
                changed = drawn.clear()
            else:
                shown = controller.measurements.on_slice(name, view.slice_index, volume.spacing[view.axis],
                                                         half_thickness(view))
                preview = controller.preview
                items = [(m, SELECTED if m.id == controller.selected else COLOUR) for m in shown
                         if preview is None or m.id != preview.id]
                if preview is not None and preview.view == name:
                    items.append((preview, SELECTED))
                changed = drawn.show(items, volume)
            if changed:
                view.request_render()

    def _follow_slab(self, view) -> None:
        """Redraw when the thick slab changes (its thickness widens what shows)."""
        settings = getattr(getattr(view, "slab", None), "settings", None)
        if settings is not None and id(settings) not in self._slabs:
            self._slabs.add(id(settings))
            settings.changed.connect(self.update)
