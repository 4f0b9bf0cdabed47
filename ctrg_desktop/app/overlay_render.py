"""Draw the pure overlay model (``ctrg_desktop.overlays``) in the slice views.

Label maps and heat maps are blended on the CPU into the view's one RGB slice image
(:mod:`ctrg_desktop.overlays.composite`, only the slice on screen, recomposed only when it is
stale); boxes become outlines on the current slice. Everything follows the model's events.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.app.views.slice_actors import Polyline3D
from ctrg_desktop.overlays import BoxLayer, Layer, LayerList


class SliceOverlays:
    """Keeps one slice view's overlays in step with a :class:`LayerList`.

    ``blends``: the colour tables of image layers (id(layer) -> LayerBlend), shared by the views.
    """

    def __init__(self, view, layers: LayerList, matrix, blends: dict | None = None):
        self.view, self.layers, self.matrix = view, layers, matrix
        self.blends = blends if blends is not None else {}
        view.blends = self.blends
        self.props: dict[int, Polyline3D] = {}  # id(layer) -> box outlines
        view.overlays = self
        for layer in layers:
            self._add(layer)
        layers.inserted.connect(self._on_inserted)
        layers.removed.connect(self._on_removed)
        layers.moved.connect(self._on_moved)
        layers.layer_changed.connect(self._on_changed)
        view.invalidate()

    def detach(self) -> None:
        """Stop listening and remove every overlay prop (before a new volume)."""
        for event, fn in ((self.layers.inserted, self._on_inserted), (self.layers.removed, self._on_removed),
                          (self.layers.moved, self._on_moved), (self.layers.layer_changed, self._on_changed)):
            event.disconnect(fn)
        for layer_id in list(self.props):
            self.view.renderer.RemoveActor(self.props.pop(layer_id).actor)
        self.blends.clear()
        self.view.overlays = None
        self.view.invalidate()

    def _add(self, layer: Layer) -> None:
        if isinstance(layer, BoxLayer):
            self.props[id(layer)] = Polyline3D(self.view.renderer, width=layer.line_width)
            self._style(layer)
            self._update_boxes(layer)

    def _drop(self, layer: Layer) -> None:
        prop = self.props.pop(id(layer), None)
        if prop is not None:
            self.view.renderer.RemoveActor(prop.actor)
        self.blends.pop(id(layer), None)

    def _style(self, layer: Layer) -> None:
        prop = self.props.get(id(layer))
        if prop is not None:
            prop.actor.SetVisibility(layer.visible)
            prop.actor.GetProperty().SetOpacity(layer.opacity)

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
        self.view.invalidate()
        self.view.request_render()

    def _on_removed(self, layer, index) -> None:
        self._drop(layer)
        self.view.invalidate()
        self.view.request_render()

    def _on_moved(self, layer, old, new) -> None:
        self.view.invalidate()
        self.view.request_render()

    def _on_changed(self, layer, what) -> None:
        if what in ("data", "style", "opacity"):
            self.blends.pop(id(layer), None)  # colour tables follow the layer
        if isinstance(layer, BoxLayer):
            if what == "data":
                self._update_boxes(layer)
            else:
                self._style(layer)
                if what == "visible":
                    self._update_boxes(layer)
        self.view.invalidate()
        self.view.request_render()
