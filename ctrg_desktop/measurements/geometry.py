"""Where a measurement lies on the study grid, and its values from the volume.

A measurement is drawn on one slice of one slice view: slice ``index`` across array ``axis``
(0 axial, 1 coronal, 2 sagittal). Its two points are LPS mm on that slice: a line's ends, or
the corners of the box an ellipse fills (the views show the array axes along the screen, so the
ellipse's axes are the slice's row and column axes).
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.measurements.stats import RegionStats, ellipse_stats

#: view name -> the array axis its slices cross (as ``ctrg_desktop.app.views.geometry.SLICE_AXIS``)
VIEW_AXES = {"axial": 0, "coronal": 1, "sagittal": 2}


def plane_axes(axis: int) -> tuple[int, int]:
    """(row axis, column axis) of a slice across ``axis``: the other two, in array order."""
    rows, cols = (a for a in range(3) if a != axis)
    return rows, cols


def on_slice(volume, axis: int, index: int, points) -> np.ndarray:
    """``points`` (n, 3 LPS) moved onto slice ``index`` across ``axis`` (their in-plane place kept)."""
    kji = np.asarray(volume.world_to_voxel(np.asarray(points, float).reshape(-1, 3)), float).reshape(-1, 3)
    kji[:, axis] = index
    return np.asarray(volume.voxel_to_world(kji), float).reshape(-1, 3)


def line_length(points) -> float:
    """Distance between a line's two LPS points, in mm."""
    p0, p1 = np.asarray(points, float).reshape(2, 3)
    return float(np.linalg.norm(p1 - p0))


def ellipse_frame(volume, axis: int, points) -> tuple[np.ndarray, np.ndarray]:
    """(centre, semi-axes) in voxels, as (row, col) of the slice, of the ellipse filling the box
    with corners ``points``."""
    rows, cols = plane_axes(axis)
    kji = np.asarray(volume.world_to_voxel(np.asarray(points, float).reshape(2, 3)), float).reshape(2, 3)
    ends = kji[:, [rows, cols]]
    return ends.mean(axis=0), np.abs(ends[1] - ends[0]) / 2.0


def ellipse_values(volume, axis: int, index: int, points) -> RegionStats:
    """HU statistics and area of the ellipse on slice ``index`` (:func:`ellipse_stats`)."""
    rows, cols = plane_axes(axis)
    centre, radii = ellipse_frame(volume, axis, points)
    plane = np.take(volume.array, int(index), axis=axis)
    return ellipse_stats(plane, centre, radii, (volume.spacing[rows], volume.spacing[cols]))


def ellipse_outline(volume, axis: int, index: int, points, count: int = 72) -> np.ndarray:
    """(count, 3) LPS points around the ellipse, closed by the caller."""
    rows, cols = plane_axes(axis)
    centre, radii = ellipse_frame(volume, axis, points)
    t = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    kji = np.zeros((count, 3))
    kji[:, axis] = index
    kji[:, rows] = centre[0] + radii[0] * np.sin(t)
    kji[:, cols] = centre[1] + radii[1] * np.cos(t)
    return np.asarray(volume.voxel_to_world(kji), float)


def ellipse_axes_world(volume, axis: int, index: int, points) -> np.ndarray:
    """(4, 3) LPS ends of the ellipse's axes: the longer axis first (DICOM SR's ELLIPSE order)."""
    rows, cols = plane_axes(axis)
    centre, radii = ellipse_frame(volume, axis, points)
    kji = np.zeros((4, 3))
    kji[:, axis] = index
    kji[:, rows], kji[:, cols] = centre[0], centre[1]
    kji[0, rows] -= radii[0]
    kji[1, rows] += radii[0]
    kji[2, cols] -= radii[1]
    kji[3, cols] += radii[1]
    world = np.asarray(volume.voxel_to_world(kji), float)
    first, second = world[:2], world[2:]
    if np.linalg.norm(second[1] - second[0]) > np.linalg.norm(first[1] - first[0]):
        first, second = second, first
    return np.concatenate([first, second])


def in_plane_size(volume, axis: int, points) -> np.ndarray:
    """The (rows, cols) extent in voxels spanned by ``points`` on a slice across ``axis``."""
    rows, cols = plane_axes(axis)
    kji = np.asarray(volume.world_to_voxel(np.asarray(points, float).reshape(-1, 3)), float).reshape(-1, 3)
    return np.ptp(kji[:, [rows, cols]], axis=0)
