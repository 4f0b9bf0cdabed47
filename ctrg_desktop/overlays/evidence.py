"""Per-structure evidence of a draft as overlay layers on the study's voxel grid (no Qt here).

A structure's attention row is spread over the study with a
:class:`~ctrg_desktop.overlays.patch_lookup.PatchLookup` and drawn as a heat map in the
structure's colour (a single-hue map, so several structures shown at once stay apart); its
top-K patches are already in study voxel edges (``box_voxels``) and become
:class:`~ctrg_desktop.overlays.layers.Box` outlines in that colour.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.overlays.colormaps import hex_to_rgb
from ctrg_desktop.overlays.layer_list import LayerList
from ctrg_desktop.overlays.layers import Box, BoxLayer, HeatmapLayer
from ctrg_desktop.overlays.patch_lookup import PatchLookup

#: a structure's heat map shows the patches whose attention is above this quantile of its row
HEAT_QUANTILE = 0.9
#: opacity of a structure's boxes while another structure is focused
DIMMED = 0.3


def heat_levels(row: np.ndarray, quantile: float = HEAT_QUANTILE) -> tuple[float, float]:
    """(threshold, top) of one structure's attention row: the heat map shows values from the
    ``quantile`` up to the highest (a flat row still shows its highest patch)."""
    row = np.asarray(row, dtype=np.float64)
    top = float(row.max())
    threshold = min(float(np.quantile(row, quantile)), top)
    if not top > threshold:
        threshold = top - max(abs(top) * 1e-3, 1e-9)
    return threshold, top


def patch_box(patch: dict, study_shape, colour, label: str = "") -> Box | None:
    """A top patch's ``box_voxels`` (study voxel edges) as a :class:`Box` clipped to the study
    (``None`` when the patch lies wholly outside it)."""
    lo, hi = np.asarray(patch["box_voxels"], dtype=np.float64)
    low = np.clip(np.round(lo + 0.5), 0, study_shape).astype(int)
    high = np.clip(np.round(hi + 0.5), 0, study_shape).astype(int)
    high = np.maximum(high, np.minimum(low + 1, study_shape))
    if np.any(high <= low):
        return None
    return Box(int(low[0]), int(high[0]), int(low[1]), int(high[1]), int(low[2]), int(high[2]),
               colour=colour, label=label)


class EvidenceLayers:
    """A draft's per-structure layers in a :class:`LayerList`: a heat map named
    ``attention: NAME`` and the top-K patch outlines ``patches: NAME``, made when a structure is
    first shown. ``focus(index)`` keeps that structure bright and dims the others."""

    def __init__(self, draft, layers: LayerList, study_geometry):
        self.draft, self.layers = draft, layers
        self.lookup = PatchLookup(draft.preprocessing, study_geometry)  # a GridGeometry, Volume or JSON dict
        self.study_shape = self.lookup.study_shape
        self.shown: set[int] = set()
        self.focused: int | None = None
        self._boxes: dict[int, list[tuple[Box, dict]]] = {}  # made when first asked for

    @staticmethod
    def heat_name(name: str) -> str:
        return f"attention: {name}"

    @staticmethod
    def box_name(name: str) -> str:
        return f"patches: {name}"

    def boxes(self, index: int) -> list[tuple[Box, dict]]:
        """(box, top-patch record) of structure ``index`` that lie in the study."""
        if index not in self._boxes:
            s = self.draft.structures[index]
            rgb = hex_to_rgb(s.colour)
            pairs = [(patch_box(p, self.study_shape, rgb, f"{s.name} #{p['rank']}"), p) for p in s.top_patches]
            self._boxes[index] = [(box, p) for box, p in pairs if box is not None]
        return self._boxes[index]

    def heat_array(self, index: int) -> np.ndarray | None:
        """Structure ``index``'s attention on the study grid (``None`` without an attention map)."""
        if self.draft.attention is None:
            return None
        return self.lookup.heat(self.draft.attention_grid(index))

    def set_shown(self, index: int, shown: bool) -> None:
        """Add or remove structure ``index``'s layers."""
        name = self.draft.structures[index].name
        if shown and index not in self.shown:
            heat = self.heat_array(index)
            if heat is not None:
                threshold, top = heat_levels(self.draft.attention[index])
                # the structure's own colour, darker for the lowest shown patches, lighter for the strongest
                colour = self.draft.structures[index].colour
                colormap = colour if str(colour).startswith("#") and len(str(colour)) == 7 else "hot"
                self.layers.add(HeatmapLayer(heat, colormap=colormap, threshold=threshold,
                                             range=(threshold - 0.5 * (top - threshold), top),
                                             opacity=0.45, name=self.heat_name(name)))
            self.layers.add(BoxLayer([b for b, _ in self.boxes(index)], name=self.box_name(name), line_width=2.0))
            self.shown.add(index)
        elif not shown and index in self.shown:
            for layer_name in (self.heat_name(name), self.box_name(name)):
                if layer_name in self.layers:
                    self.layers.remove(layer_name)
            self.shown.discard(index)
        self._apply_focus()

    def focus(self, index: int | None) -> None:
        """Bring structure ``index`` forward (shown if it was not); others are dimmed, their heat hidden."""
        if index is not None and index not in self.shown:
            self.set_shown(index, True)
        self.focused = index
        self._apply_focus()

    def _apply_focus(self) -> None:
        for index in self.shown:
            name = self.draft.structures[index].name
            bright = self.focused is None or self.focused == index
            if self.box_name(name) in self.layers:
                self.layers[self.box_name(name)].opacity = 1.0 if bright else DIMMED
            if self.heat_name(name) in self.layers:
                self.layers[self.heat_name(name)].visible = bright

    def clear(self) -> None:
        for index in list(self.shown):
            self.set_shown(index, False)
        self.focused = None

    def share(self, index: int, patch: dict) -> float | None:
        """The patch's share of structure ``index``'s attention, in % (``None`` without a map)."""
        if self.draft.attention is None:
            return None
        row = np.asarray(self.draft.attention[index], dtype=np.float64)
        total = float(row.sum())
        return 100.0 * float(patch["score"]) / total if total > 0 else None

    def describe(self, index: int, patch: dict) -> str:
        """One tooltip line: structure, rank among its top patches, share of its attention."""
        s = self.draft.structures[index]
        share = self.share(index, patch)
        what = f"{share:.1f} % of its attention" if share is not None else f"score {patch['score']:.3g}"
        return f"{s.name}: patch #{patch['rank']} of {len(s.top_patches)}, {what}"

    def patches_at(self, kji, structures=None) -> list[tuple[int, dict]]:
        """(structure index, top-patch record) of the shown patches holding voxel ``kji``, focused first."""
        kji = np.round(np.asarray(kji, dtype=np.float64)).astype(int)
        order = sorted(self.shown if structures is None else structures, key=lambda n: (n != self.focused, n))
        hits = []
        for index in order:
            for box, patch in self.boxes(index):
                if all(lo <= v < hi for v, lo, hi in zip(kji, box.lows, box.highs)):
                    hits.append((index, patch))
        return hits
