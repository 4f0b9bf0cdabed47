"""Brush shapes on a slice (pure numpy): a disc and a stroke of discs, in the slice's pixels
(``(x, y)`` = (col, row), as in :mod:`ctrg_desktop.segmentation.prompts`)."""

from __future__ import annotations

import numpy as np


def disc(shape: tuple[int, int], centre_xy, radius_xy) -> np.ndarray:
    """Bool ``(rows, cols)``: the pixels inside the ellipse at ``(x, y)`` = (col, row) with radii
    ``(rx, ry)`` in pixels (a brush of a radius in mm on anisotropic pixels); at least the centre pixel."""
    rows, cols = shape
    x, y = (float(v) for v in centre_xy)
    rx, ry = (max(float(r), 0.5) for r in radius_xy)
    r0, r1 = max(int(np.floor(y - ry)), 0), min(int(np.ceil(y + ry)) + 1, rows)
    c0, c1 = max(int(np.floor(x - rx)), 0), min(int(np.ceil(x + rx)) + 1, cols)
    out = np.zeros(shape, dtype=bool)
    if r0 < r1 and c0 < c1:
        yy, xx = np.mgrid[r0:r1, c0:c1]
        out[r0:r1, c0:c1] = ((xx - x) / rx) ** 2 + ((yy - y) / ry) ** 2 <= 1.0
    cx, cy = int(round(x)), int(round(y))
    if 0 <= cy < rows and 0 <= cx < cols:
        out[cy, cx] = True
    return out


def stroke(shape, start_xy, end_xy, radius_xy) -> np.ndarray:
    """Bool ``(rows, cols)``: discs along the segment from ``start_xy`` to ``end_xy`` (a brush drag)."""
    start, end = np.asarray(start_xy, float), np.asarray(end_xy, float)
    step = max(min(radius_xy) * 0.5, 0.5)
    count = max(1, int(np.ceil(np.linalg.norm(end - start) / step)))
    out = np.zeros(shape, dtype=bool)
    for t in np.linspace(0.0, 1.0, count + 1):
        out |= disc(shape, start + t * (end - start), radius_xy)
    return out
