"""Patch grid of a model input volume and the map from patch indices back to a study."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctrg_desktop.io.volume import Volume


@dataclass(frozen=True)
class PatchGrid:
    """A model grid ``shape`` (D, H, W) cut into patches of ``patch`` (pd, ph, pw) voxels.

    Patches are numbered in C order over (pk, pj, pi): index = (pk * nj + pj) * ni + pi, as a
    flattened ViT token sequence is. Example: (96, 128, 128) with (8, 16, 16) -> 12x8x8 = 768.
    """

    shape: tuple[int, int, int]
    patch: tuple[int, int, int]

    def __post_init__(self):
        for n, p in zip(self.shape, self.patch):
            if p < 1 or n % p:
                raise ValueError(f"grid {self.shape} is not divisible by patch size {self.patch}")

    @property
    def counts(self) -> tuple[int, int, int]:
        return tuple(n // p for n, p in zip(self.shape, self.patch))

    @property
    def num_patches(self) -> int:
        return int(np.prod(self.counts))

    def patch_coords(self, index) -> np.ndarray:
        """Flat patch indices ``(...)`` -> patch coordinates ``(..., 3)`` (pk, pj, pi)."""
        return np.stack(np.unravel_index(np.asarray(index), self.counts), axis=-1)

    def voxel_box(self, index) -> np.ndarray:
        """Flat patch indices ``(...)`` -> inclusive voxel boxes ``(..., 2, 3)`` on the model grid.

        ``box[..., 0, :]`` is the first voxel (k, j, i), ``box[..., 1, :]`` the last one.
        """
        start = self.patch_coords(index) * np.asarray(self.patch)
        return np.stack([start, start + np.asarray(self.patch) - 1], axis=-2)

    def patch_of_voxel(self, kji) -> np.ndarray:
        """Model-grid voxel indices ``(..., 3)`` -> flat patch index ``(...)``."""
        pc = np.asarray(kji, dtype=np.int64) // np.asarray(self.patch)
        return np.ravel_multi_index(tuple(np.moveaxis(pc, -1, 0)), self.counts)


def map_box_to_study(box: np.ndarray, model_grid: Volume, study: Volume) -> np.ndarray:
    """Voxel boxes ``(..., 2, 3)`` on the model grid -> fractional boxes on the study's grid.

    The box's outer edges (first voxel - 0.5 .. last voxel + 0.5) are mapped through world
    space, so the result covers the same physical region: ``(..., 2, 3)`` (min, max) in
    study voxel indices (k, j, i), edges not centres.
    """
    box = np.asarray(box, dtype=np.float64)
    lo, hi = box[..., 0, :] - 0.5, box[..., 1, :] + 0.5
    corners = np.stack([np.stack([np.where(b, hi[..., a], lo[..., a]) for a, b in enumerate(bits)], -1)
                        for bits in np.ndindex(2, 2, 2)], axis=-2)  # (..., 8, 3)
    study_pts = study.world_to_voxel(model_grid.voxel_to_world(corners))
    return np.stack([study_pts.min(axis=-2), study_pts.max(axis=-2)], axis=-2)
