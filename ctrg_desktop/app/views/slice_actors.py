"""2D decorations of a slice view: edge orientation letters, info text, scale bar, lines."""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import (vtkActor, vtkActor2D, vtkPolyDataMapper,
                                         vtkPolyDataMapper2D, vtkTextActor)

from ctrg_desktop.app.views.geometry import nice_length

VIEW_COLOURS = {"axial": (0.95, 0.35, 0.35), "coronal": (0.4, 0.85, 0.4), "sagittal": (0.95, 0.85, 0.3)}


def text_actor(size: int = 14, colour=(1.0, 1.0, 1.0), bold: bool = False) -> vtkTextActor:
    actor = vtkTextActor()
    prop = actor.GetTextProperty()
    prop.SetFontSize(size)
    prop.SetColor(*colour)
    prop.SetBold(bold)
    prop.SetShadow(True)
    return actor


class EdgeLabels:
    """Letters (A/P/R/L/S/I) at the middle of the four viewport edges."""

    _PLACES = {"left": (0.01, 0.5, 0, 1), "right": (0.99, 0.5, 2, 1),
               "top": (0.5, 0.985, 1, 2), "bottom": (0.5, 0.015, 1, 0)}

    def __init__(self, renderer):
        self.actors = {}
        for edge, (x, y, h, v) in self._PLACES.items():
            actor = text_actor(16, (1.0, 0.85, 0.4), bold=True)
            actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            actor.SetPosition(x, y)
            actor.GetTextProperty().SetJustification(h)
            actor.GetTextProperty().SetVerticalJustification(v)
            renderer.AddViewProp(actor)
            self.actors[edge] = actor

    def set(self, labels: dict[str, str]) -> None:
        for edge, actor in self.actors.items():
            actor.SetInput(labels[edge])

    def text(self) -> dict[str, str]:
        return {edge: actor.GetInput() for edge, actor in self.actors.items()}


class CornerText:
    """Text anchored at a viewport corner (``"top-left"``, ``"bottom-left"``...)."""

    def __init__(self, renderer, corner: str, size: int = 13):
        vertical, horizontal = corner.split("-")
        self.actor = text_actor(size)
        self.actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.actor.SetPosition(0.01 if horizontal == "left" else 0.99, 0.985 if vertical == "top" else 0.015)
        self.actor.GetTextProperty().SetJustification(0 if horizontal == "left" else 2)
        self.actor.GetTextProperty().SetVerticalJustification(2 if vertical == "top" else 0)
        renderer.AddViewProp(self.actor)

    def set(self, text: str) -> None:
        if self.actor.GetInput() != text:
            self.actor.SetInput(text)


class ScaleBar:
    """A 1-2-5 mm length bar at the bottom right, recomputed from the camera before each render."""

    def __init__(self, renderer):
        self.renderer = renderer
        self.points = vtkPoints()
        self.points.SetNumberOfPoints(4)
        lines = vtkCellArray()
        for a, b in ((0, 1), (0, 2), (1, 3)):
            lines.InsertNextCell(2)
            lines.InsertCellPoint(a)
            lines.InsertCellPoint(b)
        poly = vtkPolyData()
        poly.SetPoints(self.points)
        poly.SetLines(lines)
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(poly)
        self.poly = poly
        self.actor = vtkActor2D()
        self.actor.SetMapper(mapper)
        self.actor.GetProperty().SetColor(1.0, 1.0, 1.0)
        self.actor.GetProperty().SetLineWidth(2)
        self.label = text_actor(12)
        self.label.GetTextProperty().SetJustification(1)
        renderer.AddViewProp(self.actor)
        renderer.AddViewProp(self.label)
        self.length_mm = 0.0
        self._drawn_for = None  # (width, height, parallel scale) of the current bar
        renderer.AddObserver("StartEvent", lambda *_: self.update())

    def update(self) -> None:
        width, height = self.renderer.GetSize()
        camera = self.renderer.GetActiveCamera()
        if height <= 0 or camera.GetParallelScale() <= 0:
            return
        drawn_for = (width, height, camera.GetParallelScale())
        if drawn_for == self._drawn_for:  # scrolling: nothing to redo
            return
        self._drawn_for = drawn_for
        px_per_mm = height / (2.0 * camera.GetParallelScale())
        self.length_mm = nice_length(0.25 * width / px_per_mm)
        length = self.length_mm * px_per_mm
        x1, y = width - 20.0, 30.0
        x0 = x1 - length
        for n, (x, yy) in enumerate(((x0, y), (x1, y), (x0, y + 6), (x1, y + 6))):
            self.points.SetPoint(n, x, yy, 0.0)
        self.points.Modified()
        self.poly.Modified()
        text = f"{self.length_mm:g} mm"
        if self.label.GetInput() != text:
            self.label.SetInput(text)
        self.label.SetPosition((x0 + x1) / 2.0, y + 8)


class Polyline3D:
    """Line segments in world coordinates (crosshair, measurement, box outlines)."""

    def __init__(self, renderer, colour=(1.0, 1.0, 1.0), width: float = 1.5):
        self.poly = vtkPolyData()
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(self.poly)
        self.actor = vtkActor()
        self.actor.SetMapper(mapper)
        self.actor.GetProperty().SetColor(*colour)
        self.actor.GetProperty().SetLineWidth(width)
        self.actor.GetProperty().LightingOff()
        self.actor.PickableOff()
        renderer.AddActor(self.actor)

    def set_segments(self, segments: np.ndarray, colours: np.ndarray | None = None) -> None:
        """``segments`` (n, 2, 3) world points; optional per-segment RGB ``colours`` (n, 3) 0..1.
        The same number of segments as last time (the crosshair while scrolling) only rewrites
        the shared point and colour arrays in place."""
        from vtkmodules.util.numpy_support import numpy_to_vtk

        segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 3)
        rgb = None
        if colours is not None and len(segments):
            rgb = np.clip(np.asarray(colours) * 255, 0, 255).astype(np.uint8).reshape(-1, 3)
        shared = getattr(self, "_shared", None)
        if shared is not None and shared[0].shape == segments.shape and (shared[1] is None) == (rgb is None):
            points, colour_array = shared
            changed = False
            if not np.array_equal(points, segments):
                points[...] = segments
                self.poly.GetPoints().GetData().Modified()
                self.poly.GetPoints().Modified()
                changed = True
            if rgb is not None and not np.array_equal(colour_array, rgb):
                colour_array[...] = rgb
                self.poly.GetCellData().GetScalars().Modified()
                changed = True
            if changed:
                self.poly.Modified()
            return
        points = vtkPoints()
        points.SetData(numpy_to_vtk(segments.reshape(-1, 3), deep=1))
        lines = vtkCellArray()
        for n in range(len(segments)):
            lines.InsertNextCell(2)
            lines.InsertCellPoint(2 * n)
            lines.InsertCellPoint(2 * n + 1)
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(lines)
        if rgb is not None:
            scalars = numpy_to_vtk(rgb, deep=1)
            scalars.SetName("colours")
            poly.GetCellData().SetScalars(scalars)
            self.actor.GetMapper().SetScalarModeToUseCellData()
            self.actor.GetMapper().SetColorModeToDirectScalars()
            self.actor.GetMapper().ScalarVisibilityOn()
        else:
            self.actor.GetMapper().ScalarVisibilityOff()
        self.poly.ShallowCopy(poly)
        self.poly.Modified()
        from vtkmodules.util.numpy_support import vtk_to_numpy

        self._shared = (vtk_to_numpy(self.poly.GetPoints().GetData()).reshape(segments.shape),
                        None if rgb is None else vtk_to_numpy(self.poly.GetCellData().GetScalars()).reshape(rgb.shape))
