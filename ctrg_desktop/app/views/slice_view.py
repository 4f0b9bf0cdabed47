"""One MPR slice view (axial, coronal or sagittal) of the shared volume, linked by the cursor."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkImageSlice, vtkImageSliceMapper

from ctrg_desktop.app.interaction.slice_tools import SliceTools
from ctrg_desktop.app.interaction.state import ViewerState
from ctrg_desktop.app.views.base import VtkView
from ctrg_desktop.app.views.geometry import SLICE_AXIS, VIEW_TITLES, camera_frame, edge_labels
from ctrg_desktop.overlays.composite import GreyWindow, SliceCompositor
from ctrg_desktop.app.views.slice_actors import (VIEW_COLOURS, CornerText, EdgeLabels, Polyline3D,
                                                 ScaleBar)


def slice_extent(shape_kji, axis: int, index: int) -> tuple[int, int, int, int, int, int]:
    """VTK extent (x = i, y = j, z = k) of slice ``index`` across array ``axis``."""
    d, h, w = shape_kji
    extent = [0, w - 1, 0, h - 1, 0, d - 1]
    vtk_axis = 2 - axis
    extent[2 * vtk_axis] = extent[2 * vtk_axis + 1] = int(index)
    return tuple(extent)


class SliceImage:
    """One RGBA slice image (grey window + image overlays blended on the CPU, alpha 255) shown as
    a textured quad: a 2D vtkImageData sharing memory with a numpy buffer, refilled in place only
    when stale (RGBA: the texture uploads without a per-pixel repack)."""

    def __init__(self, renderer):
        self.image = vtkImageData()
        mapper = vtkImageSliceMapper()
        mapper.SetInputData(self.image)
        mapper.SliceFacesCameraOff()
        mapper.SliceAtFocalPointOff()
        self.actor = vtkImageSlice()
        self.actor.SetMapper(mapper)
        self.actor.GetProperty().SetInterpolationTypeToLinear()
        self.actor.PickableOff()
        self.actor.SetVisibility(False)
        renderer.AddViewProp(self.actor)
        self.buffer = None
        self._scalars = None

    def set_geometry(self, shape_kji, spacing_kji, axis: int, matrix) -> None:
        """Size the buffer for slices across ``axis`` of a ``shape_kji`` volume."""
        plane = tuple(n for a, n in enumerate(shape_kji) if a != axis)
        self.buffer = np.zeros(plane + (4,), np.uint8)
        self._scalars = numpy_to_vtk(self.buffer.reshape(-1, 4), deep=0)
        self.shape, self.axis = tuple(shape_kji), axis
        self.image.SetSpacing(*(float(s) for s in spacing_kji[::-1]))
        self.image.SetOrigin(0.0, 0.0, 0.0)
        self.image.SetExtent(*slice_extent(shape_kji, axis, 0))
        self.image.GetPointData().SetScalars(self._scalars)
        mapper = self.actor.GetMapper()
        mapper.SetOrientation(2 - axis)
        self.actor.SetUserMatrix(matrix)
        self.actor.SetVisibility(True)

    def place(self, index: int) -> None:
        """Put the image at slice ``index`` (its bounds follow at once, for the clipping range)."""
        if self.image.GetExtent() != slice_extent(self.shape, self.axis, index):
            self.image.SetExtent(*slice_extent(self.shape, self.axis, index))
            self.actor.GetMapper().SetSliceNumber(int(index))

    def show(self, index: int) -> None:
        """The buffer was refilled for slice ``index``: hand it to VTK."""
        self.place(index)
        self._scalars.Modified()
        self.image.Modified()


class SliceView(VtkView):
    """Signals: ``hovered(kji, world, hu)`` under the mouse; ``measured(mm)`` after a line measurement
    (the measurements themselves: :mod:`ctrg_desktop.app.measure`)."""

    hovered = QtCore.Signal(object, object, object)
    measured = QtCore.Signal(float)
    multisamples = 0

    def __init__(self, view: str, state: ViewerState, parent=None):
        super().__init__(view, parent)
        self.state = state
        self.axis = SLICE_AXIS[view]
        self.array = None  # the state's volume array (shared, never copied)
        self.slice_image = SliceImage(self.renderer)
        self.grey = GreyWindow(state.level, state.width)
        self.blends: dict = {}  # id(layer) -> overlays.composite.LayerBlend, shared by the views
        self.compositor = SliceCompositor()  # its colour tables follow self.grey and the blends
        self._stale = True  # the slice image must be recomposed before the next render
        self._shown_index = None
        self._decorations_stale = False
        self.renderer.AddObserver("StartEvent", lambda *_: self._refresh_slice())
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.edges = EdgeLabels(self.renderer)
        self.info = CornerText(self.renderer, "top-left")
        self.window_text = CornerText(self.renderer, "bottom-left")
        self.scale_bar = ScaleBar(self.renderer)
        self.crosshair = Polyline3D(self.renderer, width=1.0)
        self.crosshair_visible = True
        self.tools = SliceTools(self)
        self.setMouseTracking(True)
        self.overlays = None  # set by the window: an overlay_render.SliceOverlays
        self.slab = None  # set by the window: a views.slab.ViewSlab (thick-slab MIP / MinIP / mean)
        state.cursor_changed.connect(self._on_cursor)
        state.window_changed.connect(self._on_window)

    # --- volume and camera -------------------------------------------------------------
    def set_image(self, array: np.ndarray, matrix) -> None:
        """Show ``array`` (the state's volume array, shared) placed by ``matrix``."""
        self.array, self._stale = array, True
        self.slice_image.set_geometry(array.shape, self.state.volume.spacing, self.axis, matrix)
        self._on_window(self.state.level, self.state.width)
        self.reset_view()

    def invalidate(self) -> None:
        """The slice image must be recomposed (window, overlay or slice changed)."""
        self._stale = True

    def _refresh_slice(self) -> None:
        """Before each render: recompose the slice image if anything it shows changed."""
        if self.array is None or not (self._stale or self._shown_index != self.slice_index):
            return
        index = self.slice_index
        layers = self.overlays.layers if self.overlays is not None else ()
        source, blends = self.array, self.blends
        if self.slab is not None:  # a thick slab: its projection, and the label maps' over the slab
            source = self.slab.source(self.array, index)
            layers, blends = self.slab.layers(list(layers), blends, index)
        self.compositor(source, self.axis, index, self.grey, layers, blends, out=self.slice_image.buffer)
        self.slice_image.show(index)
        self._stale, self._shown_index = False, index

    @property
    def dop(self) -> np.ndarray:
        return np.asarray(self.renderer.GetActiveCamera().GetDirectionOfProjection())

    @property
    def slice_index(self) -> int:
        return int(self.state.cursor[self.axis])

    def reset_view(self) -> None:
        """Centre the volume, fit it to the view, put the slice at the cursor."""
        volume = self.state.volume
        if volume is None:
            return
        dop, up = camera_frame(volume, self.name)
        corners = np.array([[a, b, c] for a in (-0.5, volume.shape[0] - 0.5)
                            for b in (-0.5, volume.shape[1] - 0.5) for c in (-0.5, volume.shape[2] - 0.5)])
        world = volume.voxel_to_world(corners)
        centre = world.mean(axis=0)
        right = np.cross(dop, up)
        half_up = np.ptp(world @ up) / 2.0
        half_right = np.ptp(world @ right) / 2.0
        aspect = max(self.width(), 1) / max(self.height(), 1)
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre - dop * 1000.0))
        camera.SetViewUp(*up)
        camera.SetParallelScale(1.04 * max(half_up, half_right / aspect))
        self.edges.set(edge_labels(dop, up))
        self._follow_cursor()

    def _follow_cursor(self) -> None:
        """Move the camera along its axis so the focal plane holds the cursor's slice."""
        camera = self.renderer.GetActiveCamera()
        focal = np.asarray(camera.GetFocalPoint())
        dop = self.dop
        shift = float((self.state.cursor_world() - focal) @ dop) * dop
        if self.array is not None:
            self.slice_image.place(self.slice_index)
        camera.SetFocalPoint(*(focal + shift))
        camera.SetPosition(*(np.asarray(camera.GetPosition()) + shift))
        self.renderer.ResetCameraClippingRange()
        self._update_decorations()
        if self.overlays is not None:
            self.overlays.slice_changed()

    def _on_cursor(self, old) -> None:
        if self.state.volume is None or self.array is None:
            return
        if old[self.axis] != self.state.cursor[self.axis]:
            self._follow_cursor()
        else:
            self._update_decorations()
        self.request_render()

    def showEvent(self, event):  # noqa: N802
        if self._decorations_stale and self.state.volume is not None:
            self._update_decorations()  # the cursor moved while this view was hidden
        super().showEvent(event)

    def _on_window(self, level: float, width: float) -> None:
        if (level, width) != (self.grey.level, self.grey.width):
            self.grey = GreyWindow(level, width)
            self._stale = True
        name = f" ({self.state.preset})" if self.state.preset else ""
        self.window_text.set(f"W {width:.0f}  L {level:.0f}{name}")
        self.request_render()

    def _update_decorations(self) -> None:
        """Slice number and crosshair for the cursor (a hidden view
        catches up when it is shown: nothing reads them meanwhile)."""
        if not self.isVisible():
            self._decorations_stale = True
            return
        self._decorations_stale = False
        volume = self.state.volume
        n = volume.shape[self.axis]
        slab = self.slab.label() if self.slab is not None else ""
        self.info.set(f"{VIEW_TITLES[self.name]}  {self.slice_index + 1}/{n}{slab}")
        self._update_crosshair()

    def _update_crosshair(self) -> None:
        volume, cursor = self.state.volume, np.asarray(self.state.cursor, float)
        toward_camera = -self.dop * 0.25 * min(volume.spacing)
        alongs = [a for a in range(3) if a != self.axis]
        ends = np.repeat(cursor[None], 4, axis=0)
        for n, along in enumerate(alongs):
            ends[2 * n:2 * n + 2, along] = (-0.5, volume.shape[along] - 0.5)
        segments = (volume.voxel_to_world(ends) + toward_camera).reshape(2, 2, 3)
        colours = [VIEW_COLOURS[[k for k, v in SLICE_AXIS.items() if v == 3 - self.axis - along][0]]
                   for along in alongs]
        self.crosshair.set_segments(segments, np.array(colours))
        self.crosshair.actor.SetVisibility(self.crosshair_visible)

    def set_crosshair_visible(self, visible: bool) -> None:
        self.crosshair_visible = bool(visible)
        self.crosshair.actor.SetVisibility(self.crosshair_visible)
        self.request_render()

    # --- picking, panning, zooming ------------------------------------------------------
    def display_to_world(self, x: float, y: float) -> np.ndarray:
        """Widget position (logical pixels, top-left origin) -> LPS point on the current slice."""
        ratio = self.pixel_ratio()
        height = self.GetRenderWindow().GetSize()[1]
        self.renderer.SetDisplayPoint(x * ratio, height - y * ratio - 1, 0.0)
        self.renderer.DisplayToWorld()
        w = self.renderer.GetWorldPoint()
        point = np.asarray(w[:3]) / (w[3] or 1.0)
        focal = np.asarray(self.renderer.GetActiveCamera().GetFocalPoint())
        return point - float((point - focal) @ self.dop) * self.dop

    def world_to_display(self, world) -> tuple[float, float]:
        """LPS point -> widget position (logical pixels, top-left origin)."""
        self.renderer.SetWorldPoint(*world, 1.0)
        self.renderer.WorldToDisplay()
        x, y, _ = self.renderer.GetDisplayPoint()
        ratio = self.pixel_ratio()
        return x / ratio, (self.GetRenderWindow().GetSize()[1] - 1 - y) / ratio

    def pan(self, world_delta) -> None:
        camera = self.renderer.GetActiveCamera()
        delta = np.asarray(world_delta, float)
        camera.SetFocalPoint(*(np.asarray(camera.GetFocalPoint()) + delta))
        camera.SetPosition(*(np.asarray(camera.GetPosition()) + delta))
        self.request_render()

    def zoom(self, factor: float) -> None:
        """``factor`` > 1 magnifies."""
        camera = self.renderer.GetActiveCamera()
        camera.SetParallelScale(camera.GetParallelScale() / float(factor))
        self.request_render()

    # --- Qt events go to the tools ------------------------------------------------------
    def mousePressEvent(self, event):  # noqa: N802
        self.setFocus()
        self.tools.press(event)

    def mouseMoveEvent(self, event):  # noqa: N802
        self.tools.move(event)

    def mouseReleaseEvent(self, event):  # noqa: N802
        self.tools.release(event)

    def mouseDoubleClickEvent(self, event):  # noqa: N802
        self.tools.double_click(event)

    def wheelEvent(self, event):  # noqa: N802
        self.tools.wheel(event)

    def keyPressEvent(self, event):  # noqa: N802
        if not self.tools.key(event):
            event.ignore()

    def keyReleaseEvent(self, event):  # noqa: N802
        event.ignore()

    def enterEvent(self, event):  # noqa: N802
        pass

    def leaveEvent(self, event):  # noqa: N802
        pass
