"""Per-structure evidence of a draft as overlay layers on the study's voxel grid (no Qt here).

A draft's attention is one value per model patch (``preprocessing.grid_counts``, C order) on
the *model grid* (the study resampled and cropped/padded, ``preprocessing.model_grid``). To draw
it over the study, every study voxel is mapped through LPS world space onto the model grid and
takes the value of the patch it falls in (0 outside the model grid). The top-K patches are
already in study voxel edges (``box_voxels``) and become :class:`~ctrg_desktop.overlays.Box`
outlines in the structure's colour; the heat map is drawn in that colour too (a single-hue
map), so several structures shown at once stay apart.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.overlays import Box, BoxLayer, HeatmapLayer, LayerList

#: a structure's heat map shows the patches whose attention is above this quantile of its row
HEAT_QUANTILE = 0.9
#: opacity of a structure's boxes while another structure is focused
DIMMED = 0.3


def hex_to_rgb(colour: str) -> tuple[float, float, float]:
    """``"#rrggbb"`` -> RGB in 0..1 (grey for anything else)."""
    text = str(colour).lstrip("#")
    if len(text) != 6:
        return (0.7, 0.7, 0.7)
    try:
        return tuple(int(text[n:n + 2], 16) / 255.0 for n in (0, 2, 4))
    except ValueError:
        return (0.7, 0.7, 0.7)


def _affine(geometry: dict) -> np.ndarray:
    a = np.eye(4)
    a[:3, :3] = np.asarray(geometry["direction"], float) * np.asarray(geometry["spacing"], float)[None, :]
    a[:3, 3] = np.asarray(geometry["origin"], float)
    return a


def geometry_of(volume) -> dict:
    """The draft-style geometry dict (shape, spacing, origin, direction) of a ``Volume``."""
    return {"shape": list(volume.shape), "spacing": list(volume.spacing), "origin": list(volume.origin),
            "direction": np.asarray(volume.direction).tolist()}


def geometry_mismatch(draft_study: dict, volume, tolerance_mm: float = 0.5) -> str | None:
    """Why a draft's study geometry differs from ``volume`` (``None`` when they agree)."""
    shape = tuple(int(n) for n in draft_study.get("shape", ()))
    if shape != tuple(volume.shape):
        return f"the draft was made on a {' x '.join(map(str, shape))} study, this one is " \
               f"{' x '.join(map(str, volume.shape))}"
    if not np.allclose(draft_study["spacing"], volume.spacing, atol=1e-3):
        return f"the draft's voxel spacing {tuple(draft_study['spacing'])} differs from the study's {volume.spacing}"
    corners = np.array([[0, 0, 0], [n - 1 for n in volume.shape]], float)
    here = volume.voxel_to_world(corners)
    there = corners @ _affine(draft_study)[:3, :3].T + _affine(draft_study)[:3, 3]
    shift = float(np.abs(here - there).max())
    if shift > tolerance_mm:
        return f"the draft's study lies {shift:.1f} mm away from this one (origin or orientation differ)"
    return None


class PatchLookup:
    """Maps study voxels to model patches for one draft's preprocessing and one study geometry.

    ``patch_coords(kji)`` gives the patch (pk, pj, pi) of study voxels (-1 outside the model
    grid); ``heat(values)`` spreads a (t, h, w) patch grid over the whole study grid.
    """

    def __init__(self, preprocessing: dict, study_geometry: dict):
        self.counts = tuple(int(n) for n in preprocessing["grid_counts"])
        self.patch = tuple(int(n) for n in preprocessing["patch"])
        self.model_shape = tuple(int(n) for n in preprocessing["model_grid"]["shape"])
        self.study_shape = tuple(int(n) for n in study_geometry["shape"])
        # study voxel (k, j, i, 1) -> model grid voxel (k, j, i, 1)
        self.to_model = np.linalg.inv(_affine(preprocessing["model_grid"])) @ _affine(study_geometry)
        linear = self.to_model[:3, :3]
        self.separable = bool(np.allclose(linear - np.diag(np.diag(linear)), 0.0, atol=1e-6))
        self._axes = None
        if self.separable:  # one patch coordinate per study index along each axis
            self._axes = [self._axis_patches(a) for a in range(3)]

    def _axis_patches(self, axis: int) -> np.ndarray:
        index = np.arange(self.study_shape[axis], dtype=np.float64)
        model = np.round(index * self.to_model[axis, axis] + self.to_model[axis, 3]).astype(np.int64)
        inside = (model >= 0) & (model < self.model_shape[axis])
        return np.where(inside, model // self.patch[axis], -1)

    def patch_coords(self, kji) -> np.ndarray:
        """Study voxel indices ``(..., 3)`` -> patch coordinates ``(..., 3)``; all -1 outside the model grid."""
        kji = np.asarray(kji, dtype=np.float64)
        model = np.round(kji @ self.to_model[:3, :3].T + self.to_model[:3, 3]).astype(np.int64)
        inside = np.all((model >= 0) & (model < np.asarray(self.model_shape)), axis=-1)
        coords = model // np.asarray(self.patch)
        return np.where(inside[..., None], coords, -1)

    def patch_index(self, kji) -> int:
        """The flat patch index of one study voxel, or -1 outside the model grid."""
        coords = self.patch_coords(kji)
        if np.any(coords < 0):
            return -1
        return int(np.ravel_multi_index(tuple(int(c) for c in coords), self.counts))

    def heat(self, grid_values: np.ndarray) -> np.ndarray:
        """``(t, h, w)`` patch values -> float32 study-grid array (0 outside the model grid)."""
        values = np.asarray(grid_values, dtype=np.float32).reshape(self.counts)
        padded = np.zeros(tuple(n + 1 for n in self.counts), np.float32)  # index -1: the zero at the end
        padded[:self.counts[0], :self.counts[1], :self.counts[2]] = values
        if self.separable:  # one axis at a time: only the last take writes the full grid
            pk, pj, pi = self._axes
            return np.ascontiguousarray(padded.take(pk, axis=0).take(pj, axis=1).take(pi, axis=2))
        out = np.empty(self.study_shape, np.float32)
        j, i = np.mgrid[0:self.study_shape[1], 0:self.study_shape[2]]
        for k in range(self.study_shape[0]):  # one slice at a time: bounded memory
            kji = np.stack([np.full_like(j, k), j, i], axis=-1)
            c = self.patch_coords(kji)
            out[k] = padded[c[..., 0], c[..., 1], c[..., 2]]
        return out


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

    def __init__(self, draft, layers: LayerList, study_geometry: dict):
        self.draft, self.layers = draft, layers
        self.study_shape = tuple(int(n) for n in study_geometry["shape"])
        self.lookup = PatchLookup(draft.preprocessing, study_geometry)
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
