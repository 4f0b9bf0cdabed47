"""Draw the overlay model in the 3D view: label surfaces, heat-map isosurfaces, box outlines.

A binary label map (a segmentation mask) is drawn as a smooth closed surface in its colour
(:func:`mask_surface_grid`): cut to the mask's bounding box with a margin (a mask touching the
study's edge is closed too), at full resolution up to :data:`MASK_MAX_DIM` samples per axis,
blurred a little (a Gaussian of :data:`MASK_SIGMA` samples) and contoured at half way (flying
edges, with normals from the gradient, so it shades smoothly). The half-way contour of a blurred
mask lies on the mask's border where that is flat: a mask keeps its size and place; a mask one
slice thick still shows, as a thin plate. It costs a fraction of the voxel-face surface smoothed
afterwards (measured on a 4.3 M voxel mask: about 10x less). Other label maps keep their
voxel-face surfaces; a hidden layer's surface is rebuilt when it is shown again.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkFiltersCore import vtkAppendPolyData, vtkFlyingEdges3D
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D
from vtkmodules.vtkFiltersSources import vtkOutlineSource
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

from ctrg_desktop.app.vtk_bridge import ImageHandle, lookup_table
from ctrg_desktop.overlays import BoxLayer, HeatmapLayer, LabelMapLayer, Layer, LayerList, colormap_table

#: a mask's surface is extracted from at most this many samples along each axis of its bounding box
MASK_MAX_DIM = 256
#: the blur (standard deviation, in samples) before a mask is contoured
MASK_SIGMA = 0.6


def mask_surface_grid(array: np.ndarray, spacing, max_dim: int = MASK_MAX_DIM, sigma: float = MASK_SIGMA):
    """``(image, origin, spacing)`` whose 0.5 contour is a binary mask's smooth surface, all in
    ``(k, j, i)`` order: ``image`` float32, the mask cut to its bounding box with two empty samples
    around it and blurred by a Gaussian of ``sigma`` samples; ``origin`` the position (mm, on the
    study's voxel grid with voxel ``[0, 0, 0]`` at 0) of ``image[0, 0, 0]``. An extent over
    ``max_dim`` voxels is reduced by whole blocks, a block being set when any voxel of it is (a
    thin mask stays visible). None for an empty mask."""
    from scipy import ndimage

    mask = np.asarray(array) != 0
    if not mask.any():
        return None
    spacing = np.asarray(spacing, dtype=float)
    lo, hi = [], []
    for axis in range(3):
        used = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        lo.append(int(used[0]))
        hi.append(int(used[-1]) + 1)
    factor = [max(1, -(-(h - low) // max_dim)) for low, h in zip(lo, hi)]
    crop = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    if factor != [1, 1, 1]:
        pad = [(0, -n % f) for n, f in zip(crop.shape, factor)]
        crop = np.pad(crop, pad)
        nk, nj, ni = (n // f for n, f in zip(crop.shape, factor))
        crop = crop.reshape(nk, factor[0], nj, factor[1], ni, factor[2]).any(axis=(1, 3, 5))
    pad = 2
    image = np.zeros(tuple(n + 2 * pad for n in crop.shape), np.float32)  # one buffer, blurred in place
    image[pad:-pad, pad:-pad, pad:-pad] = crop
    if sigma > 0:
        ndimage.gaussian_filter(image, sigma, mode="constant", truncate=3.0, output=image)
    factor = np.asarray(factor, dtype=float)
    origin = (np.asarray(lo, dtype=float) + (factor - 1.0) / 2.0 - pad * factor) * spacing
    return image, tuple(origin), tuple(factor * spacing)


class VolumeOverlays:
    """Surfaces for the 3D view, rebuilt on data changes, restyled on style changes.

    ``stride`` (k, j, i) subsamples image layers like the 3D view's volume.
    """

    def __init__(self, view, layers: LayerList, matrix, spacing, stride=(1, 1, 1)):
        self.view, self.layers, self.matrix = view, layers, matrix
        self.spacing, self.stride = tuple(spacing), tuple(int(s) for s in stride)
        self.actors: dict[int, vtkActor] = {}
        self._keep: dict[int, object] = {}
        self._stale: set[int] = set()  # hidden layers whose data changed: rebuilt when shown
        view.overlays = self
        for layer in layers:
            self._add(layer)
        self._events = ((layers.inserted, self._on_inserted), (layers.removed, self._on_removed),
                        (layers.layer_changed, self._on_changed))
        for event, fn in self._events:
            event.connect(fn)
        self._changed_view()

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
        if isinstance(layer, LabelMapLayer) and layer.max_label == 1:
            return self._mask_surface(layer)
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

    def _mask_surface(self, layer: LabelMapLayer):
        """A binary mask's smooth surface (module docstring)."""
        grid = mask_surface_grid(layer.array, self.spacing)
        if grid is None:  # nothing to draw: an empty surface
            image, origin, spacing = np.zeros((2, 2, 2), np.float32), (0.0, 0.0, 0.0), self.spacing
        else:
            image, origin, spacing = grid
        handle = ImageHandle(image, spacing)
        handle.image.SetOrigin(*(float(v) for v in origin[::-1]))
        surface = vtkFlyingEdges3D()
        surface.SetValue(0, 0.5)
        surface.ComputeNormalsOn()
        surface.ComputeScalarsOff()
        surface.SetInputData(handle.image)
        return surface, handle

    def surface_count(self) -> int:
        """How many visible label-map surfaces (the masks among them) the view shows."""
        return sum(1 for layer in self.layers if isinstance(layer, LabelMapLayer) and layer.visible
                   and id(layer) in self.actors)

    def _changed_view(self) -> None:
        info = getattr(self.view, "update_info", None)
        if info is not None:
            info()
        self.view.request_render()

    def _add(self, layer: Layer) -> None:
        source, keep = self._surface(layer)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(source.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.SetUserMatrix(self.matrix)
        self.actors[id(layer)], self._keep[id(layer)] = actor, (source, keep)
        self._stale.discard(id(layer))
        self.view.renderer.AddActor(actor)
        self._style(layer)

    def _style(self, layer: Layer) -> None:
        actor = self.actors[id(layer)]
        actor.SetVisibility(layer.visible)
        prop = actor.GetProperty()
        prop.SetOpacity(layer.opacity if not isinstance(layer, BoxLayer) else 1.0)
        mapper = actor.GetMapper()
        if isinstance(layer, LabelMapLayer) and layer.max_label == 1:  # a mask: one colour
            prop.SetColor(*layer.colour_of(1))
            mapper.ScalarVisibilityOff()
        elif isinstance(layer, LabelMapLayer):
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
        self._changed_view()

    def _on_removed(self, layer, index) -> None:
        self.view.renderer.RemoveActor(self.actors.pop(id(layer)))
        self._keep.pop(id(layer), None)
        self._stale.discard(id(layer))
        self._changed_view()

    def _on_changed(self, layer, what) -> None:
        rebuild = what == "data" or (what == "style" and isinstance(layer, HeatmapLayer))
        if rebuild and not layer.visible and isinstance(layer, LabelMapLayer):
            self._stale.add(id(layer))  # nobody sees it: rebuilt when it is shown
            return
        if rebuild or (layer.visible and id(layer) in self._stale):
            self.view.renderer.RemoveActor(self.actors.pop(id(layer)))
            self._add(layer)
        else:
            self._style(layer)
        self._changed_view()
