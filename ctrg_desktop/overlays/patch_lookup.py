"""A draft's model patches on the study's voxel grid (pure numpy): which patch each study voxel
falls in, and whether a draft was made on this study at all.

A draft's attention is one value per model patch (``preprocessing.grid_counts``, C order) on
the *model grid* (the study resampled and cropped/padded, ``preprocessing.model_grid``). Every
study voxel is mapped through LPS world space onto the model grid and takes the patch it falls
in (none outside the model grid).
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.io.geometry import GridGeometry, as_geometry


def geometry_of(volume) -> dict:
    """The draft-style geometry dict (shape, spacing, origin, direction) of a ``Volume``."""
    return volume.geometry.to_json(orientation=False)


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
    there = GridGeometry.from_json(draft_study).voxel_to_world(corners)
    shift = float(np.abs(here - there).max())
    if shift > tolerance_mm:
        return f"the draft's study lies {shift:.1f} mm away from this one (origin or orientation differ)"
    return None


class PatchLookup:
    """Maps study voxels to model patches for one draft's preprocessing and one study geometry.

    ``patch_coords(kji)`` gives the patch (pk, pj, pi) of study voxels (-1 outside the model
    grid); ``heat(values)`` spreads a (t, h, w) patch grid over the whole study grid.
    ``study_geometry``: a :class:`~ctrg_desktop.io.geometry.GridGeometry`, a ``Volume`` or their JSON dict.
    """

    def __init__(self, preprocessing: dict, study_geometry):
        model_grid, study = GridGeometry.from_json(preprocessing["model_grid"]), as_geometry(study_geometry)
        self.counts = tuple(int(n) for n in preprocessing["grid_counts"])
        self.patch = tuple(int(n) for n in preprocessing["patch"])
        self.model_shape = model_grid.shape
        self.study_shape = study.shape
        # study voxel (k, j, i, 1) -> model grid voxel (k, j, i, 1)
        self.to_model = np.linalg.inv(model_grid.affine) @ study.affine
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
