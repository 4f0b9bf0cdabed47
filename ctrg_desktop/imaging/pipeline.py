"""The model's preprocessing as one recorded, invertible pipeline.

``prepare_volume`` resamples a study to the model spacing, centre crops/pads it to the model
grid and normalises HU. The returned :class:`PreparedVolume` keeps the model grid's geometry,
so patch indices map back to study voxels and world (LPS) mm through
:func:`ctrg_desktop.imaging.patches.map_box_to_study`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctrg_desktop.imaging.crop import crop_or_pad
from ctrg_desktop.imaging.patches import PatchGrid, map_box_to_study
from ctrg_desktop.imaging.resample import resample_to_spacing
from ctrg_desktop.imaging.window import PAPER_WINDOW, HUWindow
from ctrg_desktop.io.volume import Volume


@dataclass
class PreparedVolume:
    """Model input ``(D, H, W)`` float32 plus the geometry to map results back to ``study``."""

    input: np.ndarray
    grid: Volume  # model grid: resampled + cropped HU volume, geometry in LPS mm
    study: Volume
    crop_offsets: tuple[int, int, int]

    def patch_boxes_in_study(self, patch_grid: PatchGrid, indices) -> np.ndarray:
        """Flat patch indices ``(...)`` -> study voxel boxes ``(..., 2, 3)`` (edges, k/j/i)."""
        return map_box_to_study(patch_grid.voxel_box(indices), self.grid, self.study)

    def patch_centres_world(self, patch_grid: PatchGrid, indices) -> np.ndarray:
        """Flat patch indices ``(...)`` -> LPS mm centres ``(..., 3)``."""
        box = patch_grid.voxel_box(indices).astype(np.float64)
        return self.grid.voxel_to_world(box.mean(axis=-2))


def prepare_volume(study: Volume, spacing, shape, window: HUWindow = PAPER_WINDOW) -> PreparedVolume:
    """Resample to ``spacing`` (sk, sj, si) mm, crop/pad to ``shape`` (D, H, W), normalise HU.

    ValueError for absurd geometry (:func:`~ctrg_desktop.imaging.resample.check_geometry`) or
    a study holding NaN/infinite HU (the readers repair those; the model must never see them).
    """
    if study.array.dtype.kind == "f" and not np.isfinite(study.array).all():
        raise ValueError("the study holds NaN or infinite HU values; read it with "
                         "ctrg_desktop.io.readers.read_study, which repairs them")
    resampled = resample_to_spacing(study, spacing, order=1, fill_value=-1024.0)
    grid, offsets = crop_or_pad(resampled, shape, pad_value=-1024.0)
    return PreparedVolume(input=window.normalise(grid.array), grid=grid, study=study,
                          crop_offsets=offsets)
