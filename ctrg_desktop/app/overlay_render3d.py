"""Draw the overlay model in the 3D view: label surfaces, heat-map isosurfaces, box outlines."""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkFiltersCore import vtkAppendPolyData, vtkFlyingEdges3D
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D
from vtkmodules.vtkFiltersSources import vtkOutlineSource
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

from ctrg_desktop.app.vtk_bridge import ImageHandle, lookup_table
from ctrg_desktop.overlays import BoxLayer, HeatmapLayer, LabelMapLayer, Layer, LayerList, colormap_table


class VolumeOverlays:
    """Surfaces for the 3D view, rebuilt on data changes, restyled on style changes.

    ``stride`` (k, j, i) subsamples image layers like the 3D view's volume.
    """

    def __init__(self, view, layers: LayerList, matrix, spacing, stride=(1, 1, 1)):
        self.view, self.layers, self.matrix = view, layers, matrix
        self.spacing, self.stride = tuple(spacing), tuple(int(s) for s in stride)
        self.actors: dict[int, vtkActor] = {}
        self._keep: dict[int, object] = {}
        view.overlays = self
        for layer in layers:
            self._add(layer)
        self._events = ((layers.inserted, self._on_inserted), (layers.removed, self._on_removed),
                        (layers.layer_changed, self._on_changed))
        for event, fn in self._events:
            event.connect(fn)

    def detach(self) -> None:
        for event, fn in self._events:
            event.disconnect(fn)
        for key in list(self.actors):
            self.view.renderer.RemoveActor(self.actors.pop(key))
        self.view.overlays = None

    def _image(self, array: np.ndarray) -> ImageHandle:
        sk, sj, si = self.stride
        small = array[::sk, ::sj, ::si] if self.stride != (1, 1, 1) else array
        spacing = tuple(s * f for s, f in zip(self.spacing, self.stride))
        return ImageHandle(np.ascontiguousarray(small), spacing)

    def _surface(self, layer: Layer):
        """(vtk algorithm producing the layer's polydata, objects to keep alive)."""
        if isinstance(layer, BoxLayer):
            append = vtkAppendPolyData()
            for box in layer.boxes:
                low, high = box.edges() * np.asarray(self.spacing)
                outline = vtkOutlineSource()
                outline.SetBounds(low[2], high[2], low[1], high[1], low[0], high[0])
                append.AddInputConnection(outline.GetOutputPort())
            if not layer.boxes:
                append.AddInputData(vtkOutlineSource().GetOutput())
            return append, None
        handle = self._image(layer.array)
        if isinstance(layer, LabelMapLayer):
            surface = vtkDiscreteFlyingEdges3D()
            surface.GenerateValues(layer.max_label, 1, max(layer.max_label, 1))
        else:
            surface = vtkFlyingEdges3D()
            surface.SetValue(0, layer.threshold)
            surface.ComputeScalarsOff()
        surface.SetInputData(handle.image)
        return surface, handle

    def _add(self, layer: Layer) -> None:
        source, keep = self._surface(layer)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(source.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.SetUserMatrix(self.matrix)
        self.actors[id(layer)], self._keep[id(layer)] = actor, (source, keep)
        self.view.renderer.AddActor(actor)
        self._style(layer)

    def _style(self, layer: Layer) -> None:
        actor = self.actors[id(layer)]
        actor.SetVisibility(layer.visible)
        prop = actor.GetProperty()
        prop.SetOpacity(layer.opacity if not isinstance(layer, BoxLayer) else 1.0)
        mapper = actor.GetMapper()
        if isinstance(layer, LabelMapLayer):
            table = layer.rgba_table()
            mapper.SetLookupTable(lookup_table(table, (0.0, float(len(table) - 1))))
            mapper.SetScalarRange(0.0, float(len(table) - 1))
            mapper.SetColorModeToMapScalars()
            mapper.ScalarVisibilityOn()
        elif isinstance(layer, HeatmapLayer):
            lo, hi = layer.range
            t = np.clip((layer.threshold - lo) / (hi - lo), 0.0, 1.0)
            prop.SetColor(*colormap_table(layer.colormap)[int(round(t * 255))])
            mapper.ScalarVisibilityOff()
        else:
            colour = layer.boxes[0].colour if layer.boxes else (1.0, 1.0, 0.0)
            prop.SetColor(*colour)
            prop.SetLineWidth(layer.line_width)
            prop.LightingOff()
            mapper.ScalarVisibilityOff()

    def _on_inserted(self, layer, index) -> None:
        self._add(layer)
        self.view.request_render()

    def _on_removed(self, layer, index) -> None:
        self.view.renderer.RemoveActor(self.actors.pop(id(layer)))
        self._keep.pop(id(layer), None)
        self.view.request_render()

    def _on_changed(self, layer, what) -> None:
        if what == "data" or (what == "style" and isinstance(layer, HeatmapLayer)):
            self.view.renderer.RemoveActor(self.actors.pop(id(layer)))
            self._add(layer)
        else:
            self._style(layer)
        self.view.request_render()
