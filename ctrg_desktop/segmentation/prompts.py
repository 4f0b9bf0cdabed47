"""Prompts from a draft report's top patches, from a previous mask, and from a single click.

Slices and 2D coordinates: slice ``index`` along ``axis`` of a ``[k, j, i]`` volume is
``np.take(volume, index, axis)``, so its rows and columns are the two remaining array axes in
order:

======  =========  ===========  ====================  ==========================
axis    plane      2D shape     row (``y``)           column (``x``)
======  =========  ===========  ====================  ==========================
0       axial      (J, I)       ``j`` (posterior)     ``i`` (patient left)
1       coronal    (K, I)       ``k`` (superior)      ``i``
2       sagittal   (K, J)       ``k``                 ``j``
======  =========  ===========  ====================  ==========================

Arrays are indexed ``[row, col]``; prompts are ``(x, y)`` = ``(col, row)`` with pixel centres at
integers. Boxes ``(x0, y0, x1, y1)`` name the first and last pixel column/row inside them.
Patch boxes (``box_voxels``) are voxel *edges* (a voxel ``v`` spans ``v - 0.5 .. v + 0.5``), so an
edge interval ``lo .. hi`` becomes the pixel interval ``lo + 0.5 .. hi - 0.5``. Rows grow with
``k`` on coronal and sagittal slices: a viewer that draws superior at the top flips them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.segmentation.errors import SegmentationError

#: array axes of (row, column) of a slice along axis 0, 1, 2
PLANE_AXES = {0: (1, 2), 1: (0, 2), 2: (0, 1)}


@dataclass
class SlicePrompt:
    """A box and points for one slice (``box`` None when nothing intersects the slice)."""

    box: tuple[float, float, float, float] | None
    points: list[tuple[float, float, bool]] = field(default_factory=list)
    patches: list[dict] = field(default_factory=list)  #: the patches that intersect the slice

    def __bool__(self) -> bool:
        return self.box is not None or bool(self.points)


def plane_axes(axis: int) -> tuple[int, int]:
    """(row axis, column axis) of a slice along ``axis``."""
    try:
        return PLANE_AXES[int(axis)]
    except (KeyError, TypeError, ValueError):
        raise SegmentationError(f"axis is 0 (axial), 1 (coronal) or 2 (sagittal), got {axis!r}") from None


def take_slice(volume, axis: int, index: int) -> np.ndarray:
    """Slice ``index`` along ``axis`` of a 3D array (or a Volume), shaped ``(rows, cols)`` as above."""
    array = np.asarray(getattr(volume, "array", volume))
    plane_axes(axis)
    if array.ndim != 3:
        raise SegmentationError(f"a volume is a 3D array, got shape {array.shape}")
    if not 0 <= int(index) < array.shape[axis]:
        raise SegmentationError(f"slice {index} is outside the volume's {array.shape[axis]} slices along axis {axis}")
    return np.take(array, int(index), axis=int(axis))


def _slice_shape(shape, axis):
    if shape is None:
        return None
    shape = tuple(int(n) for n in shape)
    if len(shape) == 3:
        rows, cols = plane_axes(axis)
        return shape[rows], shape[cols]
    if len(shape) != 2:
        raise SegmentationError(f"a shape is (rows, cols) of the slice or (K, J, I) of the volume, got {shape}")
    return shape


def prompts_from_patches(top_patches, axis: int, index: int, shape=None) -> SlicePrompt:
    """A box (union of the intersecting patches) and positive points (their centres) on one slice.

    ``top_patches``: dicts with ``box_voxels`` ``[[k0, j0, i0], [k1, j1, i1]]`` (study voxel
    edges) and ``centre_voxel`` ``[k, j, i]``, as in :class:`ctrg_desktop.inference.StructureDraft`.
    A patch intersects slice ``index`` when its edge interval along ``axis`` overlaps the slice's
    voxel ``index - 0.5 .. index + 0.5``. ``shape``: the slice's ``(rows, cols)`` or the volume's
    ``(K, J, I)``; with it the box is clipped to the slice and points outside it are dropped
    (so are patches wholly outside it).
    """
    rows_axis, cols_axis = plane_axes(axis)
    axis, index = int(axis), int(index)
    size = _slice_shape(shape, axis)
    hits, points = [], []
    lo_x = lo_y = np.inf
    hi_x = hi_y = -np.inf
    for patch in top_patches:
        try:
            box = np.asarray(patch["box_voxels"], dtype=np.float64).reshape(2, 3)
            centre = np.asarray(patch["centre_voxel"], dtype=np.float64).reshape(3)
        except (KeyError, TypeError, ValueError):
            raise SegmentationError("a top patch needs box_voxels [[k0, j0, i0], [k1, j1, i1]] and "
                                    "centre_voxel [k, j, i]") from None
        lo, hi = box.min(axis=0), box.max(axis=0)
        if not (lo[axis] < index + 0.5 and hi[axis] > index - 0.5):
            continue
        x0, x1 = lo[cols_axis] + 0.5, hi[cols_axis] - 0.5
        y0, y1 = lo[rows_axis] + 0.5, hi[rows_axis] - 0.5
        if size is not None and (x1 < 0 or y1 < 0 or x0 > size[1] - 1 or y0 > size[0] - 1):
            continue
        hits.append(patch)
        lo_x, hi_x, lo_y, hi_y = min(lo_x, x0), max(hi_x, x1), min(lo_y, y0), max(hi_y, y1)
        x, y = float(centre[cols_axis]), float(centre[rows_axis])
        if size is None or (-0.5 <= x <= size[1] - 0.5 and -0.5 <= y <= size[0] - 0.5):
            points.append((x, y, True))
    if not hits:
        return SlicePrompt(None, [], [])
    if size is not None:
        lo_x, lo_y = max(lo_x, 0.0), max(lo_y, 0.0)
        hi_x, hi_y = min(hi_x, size[1] - 1.0), min(hi_y, size[0] - 1.0)
    return SlicePrompt((float(lo_x), float(lo_y), float(hi_x), float(hi_y)), points, hits)


def mask_box(mask: np.ndarray, margin: float = 0.0) -> tuple[float, float, float, float] | None:
    """``(x0, y0, x1, y1)`` of a 2D mask's pixels grown by ``margin`` pixels (clipped); None if empty."""
    mask = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (max(0.0, cols[0] - margin), max(0.0, rows[0] - margin),
            min(w - 1.0, cols[-1] + margin), min(h - 1.0, rows[-1] + margin))


def interior_point(mask: np.ndarray) -> tuple[float, float] | None:
    """``(x, y)`` of the mask pixel deepest inside it (farthest from its border); None if empty."""
    from scipy import ndimage

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return None
    depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return float(col), float(row)


def region_box(unit_image: np.ndarray, points, tolerance: float = 0.08, max_fraction: float = 0.5,
               min_half: float = 3.0) -> tuple[float, float, float, float] | None:
    """A box for point-only prompts on box-trained models (LiteMedSAM, MedSAM).

    For each positive point the connected region of pixels whose (lightly smoothed) windowed
    intensity lies within ``tolerance`` of the point's is grown; the box encloses the regions,
    at least ``min_half`` pixels around each point and at most ``max_fraction`` of the slice's
    size around them (a region leaking into the background stays local). None without positive points.
    """
    from scipy import ndimage

    image = ndimage.gaussian_filter(np.asarray(unit_image, dtype=np.float32), 1.0)
    h, w = image.shape
    boxes = []
    for x, y, positive in points:
        if not positive:
            continue
        col, row = int(round(min(max(x, 0), w - 1))), int(round(min(max(y, 0), h - 1)))
        seed = float(np.median(image[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2]))
        labels, _ = ndimage.label(np.abs(image - seed) <= tolerance)
        region = labels == labels[row, col] if labels[row, col] else np.zeros_like(image, dtype=bool)
        half_x, half_y = max_fraction * w / 2.0, max_fraction * h / 2.0
        x0, y0, x1, y1 = mask_box(region) or (col, row, col, row)
        boxes.append((max(min(x0, col - min_half), col - half_x), max(min(y0, row - min_half), row - half_y),
                      min(max(x1, col + min_half), col + half_x), min(max(y1, row + min_half), row + half_y)))
    if not boxes:
        return None
    b = np.asarray(boxes)
    return (max(0.0, float(b[:, 0].min())), max(0.0, float(b[:, 1].min())),
            min(w - 1.0, float(b[:, 2].max())), min(h - 1.0, float(b[:, 3].max())))
