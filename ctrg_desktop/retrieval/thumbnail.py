"""Key-slice thumbnails of the reference index (numpy): which axial slice, and a 64 x 64 uint8 image."""

from __future__ import annotations

import numpy as np

SIZE = 64


def key_slice(logits, positive, best_patch_of_label, grid) -> int:
    """The axial index (on the model grid) of a study's key slice.

    ``logits`` (18,); ``positive`` (18,) bool labels stated in its report (None: probability >= 0.5);
    ``best_patch_of_label`` (18,) the flat index of the top patch of each label's structure;
    ``grid`` a :class:`~ctrg_desktop.imaging.patches.PatchGrid`. The label: the most probable of the
    positive ones; the slice: the centre of its patch; the middle slice when no label is positive.
    """
    logits = np.asarray(logits, dtype=np.float64)
    mask = logits >= 0.0 if positive is None else np.asarray(positive, dtype=bool)
    if not mask.any():
        return grid.shape[0] // 2
    label = int(np.argmax(np.where(mask, logits, -np.inf)))
    box = grid.voxel_box(int(best_patch_of_label[label]))
    return int((box[0, 0] + box[1, 0]) // 2)


def thumbnail(image, size: int = SIZE) -> np.ndarray:
    """(size, size) uint8 of a 2D image (H, W): area-sampled to size x size, 1-99 % contrast stretch."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim != 2 or not a.size:
        raise ValueError(f"a thumbnail needs a 2D image, got shape {a.shape}")
    rows = np.linspace(0, a.shape[0], size + 1)
    cols = np.linspace(0, a.shape[1], size + 1)
    # mean of the source pixels each output pixel covers (at least one)
    r0, r1 = rows[:-1].astype(int), np.maximum(np.ceil(rows[1:]).astype(int), rows[:-1].astype(int) + 1)
    c0, c1 = cols[:-1].astype(int), np.maximum(np.ceil(cols[1:]).astype(int), cols[:-1].astype(int) + 1)
    csum = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    total = (csum[r1][:, c1] - csum[r0][:, c1] - csum[r1][:, c0] + csum[r0][:, c0])
    out = total / ((r1 - r0)[:, None] * (c1 - c0)[None, :])
    lo, hi = np.percentile(out, [1, 99])
    if hi <= lo:
        return np.zeros((size, size), dtype=np.uint8)
    return np.clip((out - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
