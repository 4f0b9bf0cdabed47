"""Volumes of masks in millilitres: voxel count x voxel volume (the product of the spacing)."""

from __future__ import annotations

import math

import numpy as np

MM3_PER_ML = 1000.0


def voxel_volume_ml(spacing) -> float:
    """The volume of one voxel in mL for ``spacing`` (three mm values, any axis order)."""
    values = [float(s) for s in spacing]
    if len(values) != 3 or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing must be three finite positive mm values, got {tuple(spacing)}")
    return math.prod(values) / MM3_PER_ML


def mask_volume_ml(mask, spacing) -> float:
    """The volume in mL of a mask: a boolean/label array (its non-zero voxels) or a voxel count."""
    if isinstance(mask, (int, np.integer)):
        count = int(mask)
        if count < 0:
            raise ValueError(f"a voxel count cannot be negative, got {count}")
    else:
        count = int(np.count_nonzero(mask))
    return count * voxel_volume_ml(spacing)


def format_ml(ml: float) -> str:
    """``0.012 mL``, ``3.46 mL``, ``125.3 mL``, ``1,520 mL``: three or four significant digits."""
    if ml == 0:
        return "0 mL"
    if ml < 1:
        return f"{ml:.3f} mL"
    if ml < 10:
        return f"{ml:.2f} mL"
    if ml < 1000:
        return f"{ml:.1f} mL"
    return f"{ml:,.0f} mL"
