"""Mask outlines in the slice views: the pixel edges of every visible mask on the slice shown,
in the mask's colour (the fill alone is hard to see on tissue of a similar grey)."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.app.segment.tools import slice_to_world
from ctrg_desktop.app.views.slice_actors import Polyline3D
from ctrg_desktop.segmentation.masks import slice_view


def outline_segments(mask2d: np.ndarray) -> np.ndarray:
    """``(n, 2, 2)`` segments ``[(x0, y0), (x1, y1)]`` along the border between mask and
    background pixels (pixel edges lie half-way between pixel centres)."""
    m = np.pad(np.asarray(mask2d, dtype=bool), 1)
    rows, cols = np.nonzero(m[:, 1:] != m[:, :-1])   # between columns c and c + 1 (padded)
    x = cols - 0.5
    vertical = np.stack([np.stack([x, rows - 1.5], -1), np.stack([x, rows - 0.5], -1)], 1)
    rows, cols = np.nonzero(m[1:, :] != m[:-1, :])   # between rows r and r + 1 (padded)
    y = rows - 0.5
    horizontal = np.stack([np.stack([cols - 1.5, y], -1), np.stack([cols - 0.5, y], -1)], 1)
    return np.concatenate([vertical, horizontal]).astype(np.float64)


class MaskOutlines:
    """One line set per slice view, rebuilt for its slice when the masks or the slice change."""

    def __init__(self, views, width: float = 1.5):
        self.views = views
        self.lines = {name: Polyline3D(view.renderer, width=width) for name, view in views.items()}
        self.masks = None

    def update(self, names=None) -> None:
        for name in names or self.views:
            view, line = self.views[name], self.lines[name]
            segments, colours = self._segments(view)
            line.set_segments(segments, colours if len(segments) else None)
            line.actor.SetVisibility(len(segments) > 0)
            view.request_render()

    def _segments(self, view):
        volume = view.state.volume
        empty = np.zeros((0, 2, 3)), np.zeros((0, 3))
        if volume is None or self.masks is None:
            return empty
        lift = -view.dop * 0.25 * min(volume.spacing)
        parts, colours = [], []
        for mask in self.masks:
            if not mask.visible or mask.array.shape != volume.shape:
                continue
            edges = outline_segments(slice_view(mask.array, view.axis, view.slice_index))
            if not len(edges):
                continue
            world = slice_to_world(volume, view.axis, view.slice_index, edges.reshape(-1, 2)) + lift
            parts.append(world.reshape(-1, 2, 3))
            colours.append(np.repeat(np.asarray(mask.rgb())[None], len(edges), axis=0))
        if not parts:
            return empty
        return np.concatenate(parts), np.concatenate(colours)
