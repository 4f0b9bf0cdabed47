"""The segmentation controller's masks: the chosen mask, new / delete / rename / assign, undo and
redo, and each mask as a :class:`~ctrg_desktop.overlays.LabelMapLayer` ``mask: NAME`` of the
window's layers (slices redrawn at once, the 3D surface rebuilt when the edits pause).

A mixin of :class:`ctrg_desktop.app.segment.controller.SegmentationController` (its state lives there).
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.overlays import LabelMapLayer
from ctrg_desktop.segmentation.masks import MaskError

#: rebuild a changed mask's 3D surface this long after its last edit (one 3D redraw for a burst of
#: clicks: a 3D frame costs about half a second on a software OpenGL)
SURFACE_DELAY_MS = 800
#: while a propagation paints its slices, its mask's 3D surface is rebuilt at most this often (a 3D frame
#: with a CPU ray caster took a sixth of the propagation's time at 2.5 s on 2 loaded cores)
LIVE_SURFACE_MS = 5000


class MaskLayers:
    """Masks and their layers (mixin: ``self.masks``, ``self.active``, ``self._layers``, ``self.panel``)."""

    def active_mask(self):
        if self.masks is None or self.active is None or self.active not in self.masks:
            return None
        return self.masks.get(self.active)

    def set_active(self, name: str | None) -> None:
        if name is not None and (self.masks is None or name not in self.masks):
            raise MaskError(f"no mask named {name!r}")
        if name != self.active:
            self.active = name
            self._end_session()
            self.panel.refresh()

    def structure_names(self) -> list[str]:
        draft = self.window.drafting.draft
        return [s.name for s in draft.structures] if draft is not None else []

    def mask_specs(self) -> list:
        """Every non-empty mask as :class:`ctrg_desktop.export.MaskSpec` (bool ``[k, j, i]`` on the study grid)."""
        return self.masks.specs() if self.masks is not None else []

    def load_masks(self, saved, clean: bool = False) -> list:
        """Replace the study's masks with ``saved`` ones (a restored autosave, a saved file)."""
        if self.masks is None:
            return []
        self._end_session()
        made = self.masks.replace_all(saved, clean=clean)
        self.active = made[-1].name if made else None
        self.panel.refresh()
        self.masks_changed.emit()
        return made

    def layer_of(self, name: str) -> LabelMapLayer:
        return self._layers[id(self.masks.get(name))]

    def _on_mask_changed(self, mask, what: str) -> None:
        if what != "opacity":
            self.outlines.update()
        layers = self.window.layers
        layer = self._layers.get(id(mask))
        if what == "added":
            layer = LabelMapLayer(mask.array.view(np.uint8), colours={1: mask.rgb()}, names={1: mask.name},
                                  name=f"mask: {mask.name}", opacity=mask.opacity, visible=mask.visible)
            self._layers[id(mask)] = layer
            layers.add(layer)
        elif layer is None:
            return
        elif what == "removed":
            self._layers.pop(id(mask), None)
            if layer in layers:
                layers.remove(layer)
            if self.active == mask.name:
                self.active = self.masks.names[-1] if len(self.masks) else None
                self._end_session()
        elif what == "data":  # the slices are redrawn now, the 3D surface after the edits pause
            for view in self.window.slice_views.values():
                view.invalidate()
                view.request_render()
            if self.masks.editing:  # a brush stroke in progress
                return
            self._stale_surfaces.add(id(mask))
            if self.live is not None and self.live.mask is mask:  # slices keep coming: at most every few s
                if not self._surface_timer.isActive():
                    self._surface_timer.start(LIVE_SURFACE_MS)
            else:
                self._surface_timer.start(SURFACE_DELAY_MS)
        elif what == "name":
            index = layers.index(layer) if layer in layers else None
            if index is not None:
                layers.remove(layer)
            layer.name, layer.names = f"mask: {mask.name}", {1: mask.name}
            layers.add(layer, index)
        elif what == "colour":
            layer.set_colour(1, mask.rgb())
        elif what == "visible":
            layer.visible = mask.visible
        elif what == "opacity":
            layer.opacity = mask.opacity
        self.panel.refresh()
        self.masks_changed.emit()

    def flush_surfaces(self) -> None:
        """Rebuild the 3D surfaces of the masks edited since the last rebuild (now)."""
        self._surface_timer.stop()
        stale, self._stale_surfaces = self._stale_surfaces, set()
        for key in stale:
            layer = self._layers.get(key)
            if layer is not None and layer in self.window.layers:
                layer.changed.emit(layer=layer, what="data")

    def new_mask(self, name: str | None = None):
        """An empty mask, chosen for the next prompts and strokes."""
        if not self._need_study():
            return None
        try:
            mask = self.masks.add(name, algorithm=None)
        except MaskError as exc:
            self.window.show_error(str(exc))
            return None
        self.set_active(mask.name)
        self.show_dock()
        return mask

    def delete_mask(self, name: str | None = None) -> bool:
        name = name or self.active
        if self.masks is None or name is None or name not in self.masks:
            self.window.status.message("Choose a mask to delete")
            return False
        self.masks.remove(name)
        self.window.status.message(f"Deleted mask {name} (Ctrl+Z in a view brings it back)")
        return True

    def rename_mask(self, name: str, new_name: str) -> bool:
        active = self.active == name
        try:
            mask = self.masks.rename(name, new_name)
        except MaskError as exc:
            self.window.show_error(f"Cannot rename mask {name}: {exc}")
            self.panel.refresh()
            return False
        if active:
            self.active = mask.name
            if self.session is not None:
                self.session.mask = mask.name
            self.panel.refresh()
        return True

    def assign_mask(self, name: str, structure: str | None) -> bool:
        try:
            self.masks.assign(name, structure)
        except MaskError as exc:
            self.window.show_error(str(exc))
            return False
        return True

    def undo(self) -> None:
        self._history("undo")

    def redo(self) -> None:
        self._history("redo")

    def _history(self, which: str) -> None:
        if self.masks is None:
            return
        text = getattr(self.masks, which)()
        self._end_session()
        self.window.status.message(f"{'Undone' if which == 'undo' else 'Redone'}: {text}" if text
                                   else f"Nothing to {which}")
        self.panel.refresh()
