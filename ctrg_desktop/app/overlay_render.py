"""Draw the pure overlay model (``ctrg_desktop.overlays``) in the slice views.

Label maps and heat maps become extra vtkImageSlice layers in the view's vtkImageStack (a
lookup table gives per-label colours, or a colour map with values below the threshold
transparent); boxes become outlines on the current slice. Everything follows the model's events.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.app.views.slice_actors import Polyline3D
from ctrg_desktop.app.views.slice_view import reslice_slice
from ctrg_desktop.app.vtk_bridge import ImageHandle, lookup_table
from ctrg_desktop.overlays import BoxLayer, HeatmapLayer, LabelMapLayer, Layer, LayerList


def layer_lookup_table(layer: Layer):
    """The vtkLookupTable for an image layer."""
    if isinstance(layer, LabelMapLayer):
        table = layer.rgba_table()
        return lookup_table(table, (0.0, float(len(table) - 1)))
    return lookup_table(layer.rgba_table(256), layer.range)


class SliceOverlays:
    """Keeps one slice view's overlay props in step with a :class:`LayerList`."""

    def __init__(self, view, layers: LayerList, matrix):
        self.view, self.layers, self.matrix = view, layers, matrix
        self.props: dict[int, object] = {}  # id(layer) -> vtkImageSlice or Polyline3D
        self.handles: dict[int, ImageHandle] = {}
        view.overlays = self
        for layer in layers:
            self._add(layer)
        layers.inserted.connect(self._on_inserted)
        layers.removed.connect(self._on_removed)
        layers.moved.connect(self._on_moved)
        layers.layer_changed.connect(self._on_changed)

    def detach(self) -> None:
        """Stop listening and remove every overlay prop (before a new volume)."""
        for event, fn in ((self.layers.inserted, self._on_inserted), (self.layers.removed, self._on_removed),
                          (self.layers.moved, self._on_moved), (self.layers.layer_changed, self._on_changed)):
            event.disconnect(fn)
        for layer_id in list(self.props):
            self._drop(layer_id)
        self.view.overlays = None

    def _add(self, layer: Layer) -> None:
        if isinstance(layer, BoxLayer):
            self.props[id(layer)] = Polyline3D(self.view.renderer, width=layer.line_width)
        else:
            handle = ImageHandle(layer.array, self.view.state.volume.spacing)
            prop = reslice_slice(handle.image, self.matrix, linear=isinstance(layer, HeatmapLayer))
            prop.GetProperty().UseLookupTableScalarRangeOn()
            self.handles[id(layer)] = handle
            self.props[id(layer)] = prop
            self.view.stack.AddImage(prop)
        self._style(layer)
        self._restack()
        self._update_boxes(layer)

    def _drop(self, layer_id: int) -> None:
        prop = self.props.pop(layer_id)
        self.handles.pop(layer_id, None)
        if isinstance(prop, Polyline3D):
            self.view.renderer.RemoveActor(prop.actor)
        else:
            self.view.stack.RemoveImage(prop)

    def _style(self, layer: Layer) -> None:
        prop = self.props[id(layer)]
        if isinstance(prop, Polyline3D):
            prop.actor.SetVisibility(layer.visible)
            prop.actor.GetProperty().SetOpacity(layer.opacity)
            return
        prop.SetVisibility(layer.visible)
        prop.GetProperty().SetOpacity(layer.opacity)
        prop.GetProperty().SetLookupTable(layer_lookup_table(layer))

    def _restack(self) -> None:
        for n, layer in enumerate(self.layers):
            prop = self.props.get(id(layer))
            if prop is not None and not isinstance(prop, Polyline3D):
                prop.GetProperty().SetLayerNumber(n + 1)
        self.view.stack.SetActiveLayer(0)

    def _update_boxes(self, layer: Layer) -> None:
        if not isinstance(layer, BoxLayer):
            return
        volume, axis = self.view.state.volume, self.view.axis
        segments, colours = [], []
        lift = -self.view.dop * 0.2 * min(volume.spacing)
        for box, (low, high) in layer.boxes_on_slice(axis, self.view.slice_index):
            a, b = (x for x in range(3) if x != axis)
            corners = []
            for ua, ub in ((0, 0), (1, 0), (1, 1), (0, 1)):
                p = low.copy()
                p[a], p[b] = (low[a], high[a])[ua], (low[b], high[b])[ub]
                corners.append(p)
            world = volume.voxel_to_world(np.array(corners)) + lift
            for n in range(4):
                segments.append((world[n], world[(n + 1) % 4]))
                colours.append(box.colour)
        self.props[id(layer)].set_segments(np.array(segments).reshape(-1, 2, 3), np.array(colours).reshape(-1, 3))

    def slice_changed(self) -> None:
        for layer in self.layers:
            if isinstance(layer, BoxLayer) and layer.visible:
                self._update_boxes(layer)

    def _on_inserted(self, layer, index) -> None:
        self._add(layer)
        self.view.request_render()

    def _on_removed(self, layer, index) -> None:
        self._drop(id(layer))
        self._restack()
        self.view.request_render()

    def _on_moved(self, layer, old, new) -> None:
        self._restack()
        self.view.request_render()

    def _on_changed(self, layer, what) -> None:
        if what == "data":
            if id(layer) in self.handles:
                self._drop(id(layer))
                self._add(layer)
            self._update_boxes(layer)
        else:
            self._style(layer)
            if what == "visible":
                self._update_boxes(layer)
        self.view.request_render()
