"""Thick-slab rendering of the slice views: each view its own slab setting and cached plane.

Each slice view has its own :class:`SlabSettings` (mode off / MIP / MinIP / mean, thickness in
mm): a reader may keep a 10 mm axial MIP for nodules beside plain coronal and sagittal slices.
The View menu's shortcuts change the slab of the view under the mouse (else the active view),
the corner text of each view says its own slab. Each view's :class:`ViewSlab` projects the real
volume across the view's own array axis with
:func:`ctrg_desktop.imaging.slab.slab_projection` (the views are not oblique: each view's normal
is one array axis, so the slab is exactly the slices around the current one, thickness in mm
converted with that axis's spacing) and hands the plane to the view's compositor in place of
the slice. Label maps (the masks among them) are drawn as their projection over the same slab
(the maximum label across its slices: a mask shows wherever it lies in the slab, as the
structures it outlines do in a MIP); heat maps (of the centre slice), boxes, the crosshair and
the measurements are drawn on top as before.
"""

from __future__ import annotations

import copy
import time

import numpy as np
from PySide6 import QtCore

from ctrg_desktop.imaging.slab import MODE_NAMES, SLAB_MODES, slab_projection, slab_range
from ctrg_desktop.overlays import LabelMapLayer
from ctrg_desktop.overlays.composite import LayerBlend

#: thickness steps of "thicker" / "thinner" (mm)
THICKNESS_STEPS = (1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0)
MIN_MM, MAX_MM = 1.0, 50.0


class SlabSettings(QtCore.QObject):
    """The slab mode and thickness of one slice view; ``changed`` after either changes."""

    changed = QtCore.Signal()

    def __init__(self, mode: str = "off", thickness_mm: float = 10.0, parent=None):
        super().__init__(parent)
        self.mode = "off"
        self.thickness_mm = 10.0
        self.set_thickness(thickness_mm)
        self.set_mode(mode)

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def set_mode(self, mode: str) -> None:
        mode = str(mode).lower()
        if mode not in SLAB_MODES:
            raise ValueError(f"unknown slab mode {mode!r}; choose one of {', '.join(SLAB_MODES)}")
        if mode != self.mode:
            self.mode = mode
            self.changed.emit()

    def cycle_mode(self) -> None:
        """Off -> MIP -> MinIP -> Mean -> Off."""
        self.set_mode(SLAB_MODES[(SLAB_MODES.index(self.mode) + 1) % len(SLAB_MODES)])

    def set_thickness(self, mm: float) -> None:
        mm = float(np.clip(float(mm), MIN_MM, MAX_MM))
        if mm != self.thickness_mm:
            self.thickness_mm = mm
            self.changed.emit()

    def thicker(self) -> None:
        self.set_thickness(next((s for s in THICKNESS_STEPS if s > self.thickness_mm + 1e-6), MAX_MM))

    def thinner(self) -> None:
        self.set_thickness(next((s for s in reversed(THICKNESS_STEPS) if s < self.thickness_mm - 1e-6), MIN_MM))


class ViewSlab:
    """The slab plane of one slice view, recomputed only when the slice, the volume or the
    settings change (a window/level change or an overlay edit recomposes from the cached plane)."""

    def __init__(self, view, settings: SlabSettings):
        self.view, self.settings = view, settings
        self._key = None
        self._array = None
        self._plane = None
        self._source = None
        self.last_ms = 0.0  #: time of the last projection (ms)
        settings.changed.connect(self._on_changed)

    def _on_changed(self) -> None:
        view = self.view
        view.invalidate()
        if view.state.volume is not None and view.array is not None:
            view._update_decorations()
        view.request_render()

    def source(self, array: np.ndarray, index: int) -> np.ndarray:
        """What the compositor reads slice ``index`` of: ``array`` itself when the slab is off,
        else a read-only 3D view whose every slice across the view's axis is the slab plane."""
        settings = self.settings
        if not settings.active:
            return array
        axis = self.view.axis
        spacing = float(self.view.state.volume.spacing[axis])
        key = (array.shape, axis, int(index), settings.mode, settings.thickness_mm, spacing)
        if key != self._key or array is not self._array:
            start = time.perf_counter()
            self._plane = slab_projection(array, axis, index, settings.thickness_mm, spacing, settings.mode)
            self.last_ms = (time.perf_counter() - start) * 1000.0
            self._source = np.broadcast_to(np.expand_dims(self._plane, axis), array.shape)
            self._key, self._array = key, array
        return self._source

    def layers(self, layers, blends: dict, index: int) -> tuple[list, dict]:
        """``(layers, blends)`` for the compositor of slice ``index``: while a slab is on, each
        shown label map is replaced by a copy whose every slice is its maximum over the slab
        (sharing the original's colour tables in ``blends``); else the arguments themselves."""
        settings = self.settings
        if not settings.active or not any(isinstance(layer, LabelMapLayer) for layer in layers):
            return layers, blends
        axis, array = self.view.axis, self.view.array
        spacing = float(self.view.state.volume.spacing[axis])
        out, shared = [], {}
        for layer in layers:
            if layer.visible and layer.opacity > 0 and isinstance(layer, LabelMapLayer):
                blend = blends.get(id(layer))
                if blend is None:
                    blend = blends[id(layer)] = LayerBlend(layer)
                plane = slab_projection(layer.array, axis, index, settings.thickness_mm, spacing, "mip")
                projected = copy.copy(layer)
                projected.array = np.broadcast_to(np.expand_dims(plane, axis), array.shape)
                shared[id(projected)] = blend
                out.append(projected)
            else:
                if id(layer) in blends:
                    shared[id(layer)] = blends[id(layer)]
                out.append(layer)
        return out, shared

    def label(self) -> str:
        """``"\\nMIP 19.5 mm"`` (a second line of the view's corner text; "" when off): the slab
        really covered, clipped at the volume's ends."""
        settings, view = self.settings, self.view
        volume = view.state.volume
        if not settings.active or volume is None:
            return ""
        spacing = float(volume.spacing[view.axis])
        lo, hi = slab_range(view.slice_index, volume.shape[view.axis], settings.thickness_mm, spacing)
        return f"\n{MODE_NAMES[settings.mode]} {(hi - lo) * spacing:g} mm"
