"""The HU image and label map being drawn, with masked painting."""

from __future__ import annotations

import functools

import numpy as np

from ctrg_desktop.data.phantoms.geometry import Grid, Slices


@functools.lru_cache(maxsize=256)
def _lut(labels: tuple[int, ...]) -> np.ndarray:
    lut = np.zeros(256, dtype=bool)
    lut[list(labels)] = True
    return lut


class Canvas:
    """``hu`` float32 (D, H, W) Hounsfield units and ``lab`` uint8 (D, H, W) fine labels."""

    def __init__(self, grid: Grid):
        self.grid = grid
        self.hu = np.full(grid.shape, -1000.0, dtype=np.float32)
        self.lab = np.zeros(grid.shape, dtype=np.uint8)

    def has(self, labels, sl: Slices | None = None) -> np.ndarray:
        """Boolean block: the current label is one of ``labels``."""
        return _lut(tuple(int(v) for v in labels))[self.lab if sl is None else self.lab[sl]]

    def paint_flat(self, idx: np.ndarray, hu, label=None, onto=None, below: float | None = None) -> np.ndarray:
        """Like :meth:`paint` for flat voxel indices; returns the indices actually painted."""
        if onto is not None:
            idx = idx[_lut(tuple(int(v) for v in onto))[self.lab.ravel()[idx]]]
        if below is not None:
            idx = idx[self.hu.ravel()[idx] < below]
        self.hu.ravel()[idx] = hu
        if label is not None:
            self.lab.ravel()[idx] = int(label)
        return idx

    def paint(self, sl: Slices | None, mask, hu, label=None, onto=None, below: float | None = None):
        """Set ``hu`` (scalar or block array) and ``label`` where ``mask`` holds.

        ``onto`` restricts painting to voxels now carrying one of those labels, ``below`` to
        voxels now under that HU. Returns the block mask actually painted (None if ``sl`` is None).
        """
        if sl is None:
            return None
        mask = np.broadcast_to(mask, self.hu[sl].shape)
        if onto is not None:
            mask = mask & self.has(onto, sl)
        if below is not None:
            mask = mask & (self.hu[sl] < below)
        view = self.hu[sl]
        view[mask] = np.broadcast_to(hu, mask.shape)[mask] if isinstance(hu, np.ndarray) else hu
        if label is not None:
            self.lab[sl][mask] = int(label)
        return mask
