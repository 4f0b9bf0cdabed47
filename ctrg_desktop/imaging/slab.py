"""Thick-slab projections of a volume across one array axis (pure numpy, no Qt or VTK).

A slab of ``thickness_mm`` centred on slice ``index`` holds the ``2 h + 1`` slices
``index - h .. index + h`` whose total thickness ``(2 h + 1) * spacing`` is nearest to the
thickness asked for (at least the one slice; a tie takes the thicker slab), clipped to the
volume at its first and last slices. The projection of those slices is their maximum (MIP),
minimum (MinIP) or mean, one value per in-plane pixel.

>>> volume = np.arange(24, dtype=np.int16).reshape(4, 2, 3)   # 4 slices, 2 mm apart
>>> slab_range(1, 4, thickness_mm=6.0, spacing_mm=2.0)         # 3 slices: 0, 1, 2
(0, 3)
>>> slab_projection(volume, 0, 1, 6.0, 2.0, "mip").tolist()
[[12, 13, 14], [15, 16, 17]]
>>> slab_projection(volume, 0, 1, 6.0, 2.0, "mean").tolist()
[[6, 7, 8], [9, 10, 11]]
"""

from __future__ import annotations

import math

import numpy as np

#: "off" shows the plain slice
SLAB_MODES = ("off", "mip", "minip", "mean")
MODE_NAMES = {"off": "Off", "mip": "MIP", "minip": "MinIP", "mean": "Mean"}


def slab_half_width(thickness_mm: float, spacing_mm: float) -> int:
    """``h``: the slab is ``2 h + 1`` slices, the odd count whose thickness is nearest to ``thickness_mm``."""
    thickness_mm, spacing_mm = float(thickness_mm), float(spacing_mm)
    if not (spacing_mm > 0 and math.isfinite(spacing_mm)):
        raise ValueError(f"slice spacing must be positive, not {spacing_mm}")
    if not (thickness_mm >= 0 and math.isfinite(thickness_mm)):
        raise ValueError(f"slab thickness must be a non-negative number of mm, not {thickness_mm}")
    return max(0, int(math.floor((thickness_mm / spacing_mm - 1.0) / 2.0 + 0.5 + 1e-9)))


def slab_range(index: int, length: int, thickness_mm: float, spacing_mm: float) -> tuple[int, int]:
    """Slices ``[lo, hi)`` of the slab centred on ``index`` in an axis of ``length`` slices."""
    index = int(index)
    if not 0 <= index < length:
        raise IndexError(f"slice {index} outside 0..{length - 1}")
    h = slab_half_width(thickness_mm, spacing_mm)
    return max(0, index - h), min(int(length), index + h + 1)


def slab_thickness(index: int, length: int, thickness_mm: float, spacing_mm: float) -> float:
    """The thickness in mm that the slab actually covers (whole slices, clipped at the volume's ends)."""
    lo, hi = slab_range(index, length, thickness_mm, spacing_mm)
    return (hi - lo) * float(spacing_mm)


def _block(array: np.ndarray, axis: int, lo: int, hi: int) -> np.ndarray:
    return array[(slice(None),) * axis + (slice(lo, hi),)]


def slab_projection(array: np.ndarray, axis: int, index: int, thickness_mm: float, spacing_mm: float,
                    mode: str = "mip", out: np.ndarray | None = None) -> np.ndarray:
    """The 2D projection of the slab of ``thickness_mm`` centred on slice ``index`` across array
    ``axis`` (0, 1 or 2; ``spacing_mm`` is the spacing along that axis).

    ``mode``: ``"mip"`` (maximum), ``"minip"`` (minimum), ``"mean"`` or ``"off"`` (the slice
    itself). MIP and MinIP keep the array's dtype; the mean of an integer array is rounded to
    the nearest integer in the same dtype (so it windows like the slices), of a float array it
    is float32. ``out``: a 2D array of the result's shape and dtype to fill.
    """
    if mode not in SLAB_MODES:
        raise ValueError(f"unknown slab mode {mode!r}; choose one of {', '.join(SLAB_MODES)}")
    if not 0 <= axis < array.ndim:
        raise ValueError(f"axis {axis} out of range for a {array.ndim}D array")
    lo, hi = (index, index + 1) if mode == "off" else slab_range(index, array.shape[axis], thickness_mm, spacing_mm)
    block = _block(array, axis, lo, hi)
    if mode == "off" or hi - lo == 1:
        plane = block[(slice(None),) * axis + (0,)]
        if out is None:
            return plane.copy() if mode != "mean" or np.issubdtype(array.dtype, np.integer) else plane.astype(np.float32)
        out[...] = plane
        return out
    if mode == "mip":
        return np.max(block, axis=axis, out=out)
    if mode == "minip":
        return np.min(block, axis=axis, out=out)
    integer = np.issubdtype(array.dtype, np.integer)
    total = np.sum(block, axis=axis, dtype=np.int64 if integer and array.dtype.itemsize > 2 else
                   (np.int32 if integer else np.float64))
    mean = np.divide(total, hi - lo, dtype=np.float64 if integer and array.dtype.itemsize > 2 else np.float32)
    if integer:
        np.rint(mean, out=mean)
        if out is None:
            return mean.astype(array.dtype)
        out[...] = mean
        return out
    if out is None:
        return mean.astype(np.float32, copy=False)
    out[...] = mean
    return out
