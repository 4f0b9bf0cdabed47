"""Statistics of an ellipse on a 2D slice (pure numpy): HU mean, SD, min, max and area.

A voxel belongs to the ellipse when its centre lies inside it:
``((r - cr) / ar) ** 2 + ((c - cc) / ac) ** 2 <= 1`` in voxel units (row, column). The SD is the
population standard deviation (``ddof=0``, as OHIF reports it). The area is the ellipse's own,
``pi * a * b`` in mm^2 from the semi-axes and the pixel spacing (not the voxel count times the
pixel area, which steps with the grid); ``voxels`` counts the voxel centres inside.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class RegionStats:
    """HU statistics of the voxels inside a region (NaN when no voxel centre lies inside)."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    area_mm2: float
    voxels: int

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def ellipse_mask(shape, centre, radii) -> np.ndarray:
    """Bool ``shape`` (rows, cols) mask of the voxel centres inside the axis-aligned ellipse with
    ``centre`` (row, col) and semi-axes ``radii`` (rows, cols), all in voxels."""
    (cr, cc), (ar, ac) = (float(v) for v in centre), (float(v) for v in radii)
    if not (ar > 0 and ac > 0):
        raise ValueError(f"an ellipse needs positive semi-axes, got {ar:g} x {ac:g} voxels")
    rows = (np.arange(shape[0]) - cr) / ar
    cols = (np.arange(shape[1]) - cc) / ac
    return rows[:, None] ** 2 + cols[None, :] ** 2 <= 1.0


def ellipse_stats(plane: np.ndarray, centre, radii, pixel_mm) -> RegionStats:
    """Statistics of ``plane`` (2D HU) inside the ellipse (``centre``, ``radii`` as in
    :func:`ellipse_mask`; ``pixel_mm``: the (row, col) spacing). Only the ellipse's bounding box is
    read, so a large slice costs no more than a small one."""
    (cr, cc), (ar, ac) = (float(v) for v in centre), (float(v) for v in radii)
    if not (ar > 0 and ac > 0):
        raise ValueError(f"an ellipse needs positive semi-axes, got {ar:g} x {ac:g} voxels")
    area = math.pi * ar * float(pixel_mm[0]) * ac * float(pixel_mm[1])
    r0, r1 = max(0, math.ceil(cr - ar)), min(plane.shape[0], math.floor(cr + ar) + 1)
    c0, c1 = max(0, math.ceil(cc - ac)), min(plane.shape[1], math.floor(cc + ac) + 1)
    if r0 >= r1 or c0 >= c1:
        return RegionStats(math.nan, math.nan, math.nan, math.nan, area, 0)
    window = plane[r0:r1, c0:c1]
    values = window[ellipse_mask(window.shape, (cr - r0, cc - c0), (ar, ac))].astype(np.float64)
    if not values.size:
        return RegionStats(math.nan, math.nan, math.nan, math.nan, area, 0)
    return RegionStats(float(values.mean()), float(values.std()), float(values.min()), float(values.max()),
                       area, int(values.size))
