"""Painting tubes (polylines of capsules), optionally with a wall and a lumen."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.geometry import segment


def paint_tube(canvas: Canvas, points, radius: float, hu, label=None, onto=None,
               lumen: float = 0.0, lumen_hu: float = -1000.0, lumen_label=None) -> list:
    """Paint a polyline tube of ``radius`` mm (and an inner ``lumen`` radius if > 0).

    Returns the painted ``(slices, mask)`` blocks, one per segment.
    """
    pts = np.asarray(points, dtype=float)
    blocks = []
    for p0, p1 in zip(pts[:-1], pts[1:]):
        sl, d = segment(canvas.grid, p0, p1, radius + 1.0)
        if sl is None:
            continue
        blocks.append((sl, canvas.paint(sl, d <= radius, hu, label, onto=onto)))
        if lumen > 0:
            inner_onto = None if onto is None else (*onto, label)
            canvas.paint(sl, d <= lumen, lumen_hu, label if lumen_label is None else lumen_label, onto=inner_onto)
    return blocks
