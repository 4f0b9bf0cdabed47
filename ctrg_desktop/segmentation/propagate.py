"""Grow a 2D mask into 3D: segment neighbouring slices, each prompted from the previous slice's mask.

From ``start_index`` the slices are visited outwards in both directions; slice ``n`` is prompted
with the bounding box of slice ``n -/+ 1``'s mask grown by ``margin`` pixels (and, with
``use_points``, that mask's deepest pixel as a positive point). The new mask keeps only the parts
that touch the previous mask. SAM outlines *something* in any box, so past the structure's end
it keeps finding neighbours; a direction therefore ends at the first slice whose mask

* is smaller than ``min_area`` pixels or than ``min_fraction`` of the previous mask,
* overlaps the previous mask by an IoU under ``min_overlap``,
* is unstable (SAM's stability score under ``min_stability``: the outline moves with the threshold),
* or has a median HU more than ``max_hu_shift`` from the start mask's (the box slid onto another tissue),

and after ``max_slices`` slices. That slice is not included.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.segmentation.prompts import interior_point, mask_box, take_slice


class PropagationCancelled(CtrgError):
    """The ``cancel`` callback stopped a propagation; ``mask`` holds the slices done so far."""

    def __init__(self, message: str, mask: np.ndarray):
        super().__init__(message)
        self.mask = mask


def _overlapping(mask: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """The connected parts of ``mask`` that touch ``previous`` (grown by one pixel)."""
    from scipy import ndimage

    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask if count and (mask & ndimage.binary_dilation(previous)).any() else np.zeros_like(mask)
    touching = np.unique(labels[ndimage.binary_dilation(previous) & mask])
    touching = touching[touching > 0]
    return np.isin(labels, touching)


def _ends(mask, previous, image, stability, reference_hu, min_area, min_fraction, min_overlap, min_stability,
          max_hu_shift) -> bool:
    """True when ``mask`` shows the structure has ended (module docstring)."""
    area = int(mask.sum())
    if area < max(1, int(min_area)) or area < min_fraction * previous.sum():
        return True
    if (mask & previous).sum() / (mask | previous).sum() < min_overlap or stability < min_stability:
        return True
    return max_hu_shift is not None and abs(float(np.median(image[mask])) - reference_hu) > max_hu_shift


def propagate(volume_array, axis: int, start_index: int, start_mask, segmenter, *, window=None,
              study_key=None, max_slices: int = 64, min_area: int = 10, min_fraction: float = 0.2,
              min_overlap: float = 0.5, min_stability: float = 0.5, max_hu_shift: float | None = 150.0,
              margin: float = 2.0, use_points: bool = False, directions=(1, -1),
              progress: Callable[[int, int], None] | None = None,
              cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """A 3D bool mask (the volume's shape) grown from ``start_mask`` on slice ``start_index``.

    ``volume_array``: the ``[k, j, i]`` HU array (or a Volume); ``axis``: 0 axial, 1 coronal,
    2 sagittal; ``start_mask``: the 2D mask on the start slice (its pixels, see
    :mod:`ctrg_desktop.segmentation.prompts`). With ``study_key`` embeddings go through the
    segmenter's cache (a re-run, or a worker that pre-filled it, costs no re-embedding).
    ``max_slices``: at most this many slices per direction; the stopping thresholds are in the
    module docstring (``max_hu_shift=None`` turns the HU check off). ``progress(done, planned)``
    after each slice; ``cancel()`` returning True raises :class:`PropagationCancelled` (with the
    mask so far).
    """
    volume = np.asarray(getattr(volume_array, "array", volume_array))
    first = take_slice(volume, axis, start_index)
    start = np.asarray(start_mask, dtype=bool)
    if start.shape != first.shape:
        raise CtrgError(f"the start mask is {start.shape} but slice {start_index} along axis {axis} is {first.shape}")
    if not start.any():
        raise CtrgError("the start mask is empty: nothing to propagate")
    out = np.zeros(volume.shape, dtype=bool)
    view = np.moveaxis(out, axis, 0)  # view[n] is slice n in (rows, cols) order
    view[start_index] = start
    count = volume.shape[axis]
    steps = {d: min(int(max_slices), count - 1 - start_index if d > 0 else start_index) for d in directions}
    planned, done = sum(max(s, 0) for s in steps.values()), 0
    reference_hu = float(np.median(first[start]))
    for direction in directions:
        previous = start
        for step in range(1, steps[direction] + 1):
            if cancel is not None and cancel():
                raise PropagationCancelled("mask propagation cancelled", out)
            index = start_index + direction * step
            image = np.take(volume, index, axis=axis)
            key = None if study_key is None else (study_key, axis, index)
            embedding = segmenter.embed(image, window, key=key)
            box = mask_box(previous, margin)
            points = []
            if use_points:
                point = interior_point(previous)
                points = [(point[0], point[1], True)]
            prediction = segmenter.predict_scored(embedding, points=points, box=box)
            mask = _overlapping(prediction.mask, previous)
            done += 1
            ended = _ends(mask, previous, image, prediction.stability, reference_hu, min_area, min_fraction,
                          min_overlap, min_stability, max_hu_shift)
            if ended:
                planned -= steps[direction] - step
            if progress is not None:
                progress(done, planned)
            if ended:
                break
            view[index] = mask
            previous = mask
    return out
