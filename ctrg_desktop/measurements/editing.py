"""Handles of a measurement, and the measurement after one of them is dragged (no Qt here).

A line has three handles: ``start`` and ``end`` (its two points) and ``centre`` (moves the
whole line). An ellipse has five: ``row-``, ``row+``, ``col-``, ``col+`` at the ends of its axes
(the box it fills, as (row, column) of its slice: dragging one moves that side of the box, the
opposite side stays) and ``centre`` (moves it). Points are LPS mm; a dragged point is put on the
measurement's own slice. :func:`edited` recomputes the values from the volume (MeasurementError
when the result is smaller than a voxel, as when it was drawn).
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.measurements.geometry import ellipse_frame, on_slice, plane_axes
from ctrg_desktop.measurements.model import Measurement, MeasurementError, make_measurement

LINE_HANDLES = ("start", "end", "centre")
ELLIPSE_HANDLES = ("row-", "row+", "col-", "col+", "centre")


def handles(volume, measurement: Measurement) -> dict[str, np.ndarray]:
    """``name -> (3,) LPS point`` of each handle of ``measurement`` (module docstring)."""
    points = np.asarray(measurement.points, float).reshape(2, 3)
    if measurement.kind == "line":
        return {"start": points[0], "end": points[1], "centre": points.mean(axis=0)}
    axis = measurement.axis
    rows, cols = plane_axes(axis)
    (cr, cc), (ar, ac) = ellipse_frame(volume, axis, points)
    kji = np.zeros((5, 3))
    kji[:, axis] = measurement.slice
    kji[:, rows], kji[:, cols] = cr, cc
    kji[0, rows] -= ar
    kji[1, rows] += ar
    kji[2, cols] -= ac
    kji[3, cols] += ac
    return dict(zip(ELLIPSE_HANDLES, np.asarray(volume.voxel_to_world(kji), float)))


def moved_points(volume, measurement: Measurement, handle: str, start, point) -> np.ndarray:
    """(2, 3) LPS points of ``measurement`` after ``handle`` was dragged from ``start`` to
    ``point`` (LPS; both put on the measurement's slice)."""
    names = LINE_HANDLES if measurement.kind == "line" else ELLIPSE_HANDLES
    if handle not in names:
        raise MeasurementError(f"a {measurement.kind} has no handle {handle!r}; it has {', '.join(names)}")
    axis, index = measurement.axis, measurement.slice
    points = np.asarray(measurement.points, float).reshape(2, 3)
    start, point = on_slice(volume, axis, index, np.stack([start, point]))
    if handle == "centre":
        return points + (point - start)
    if measurement.kind == "line":
        out = points.copy()
        out[0 if handle == "start" else 1] = point
        return out
    rows, cols = plane_axes(axis)
    kji = np.asarray(volume.world_to_voxel(points), float).reshape(2, 3)
    lo, hi = kji.min(axis=0), kji.max(axis=0)
    to = np.asarray(volume.world_to_voxel(point), float).reshape(3)
    along = rows if handle.startswith("row") else cols
    (lo if handle.endswith("-") else hi)[along] = to[along]
    lo[axis] = hi[axis] = index
    return np.asarray(volume.voxel_to_world(np.stack([lo, hi])), float)


def edited(volume, measurement: Measurement, points) -> Measurement:
    """``measurement`` (same id, label, view and slice) between new ``points``, values recomputed."""
    out = make_measurement(volume, measurement.kind, measurement.view, measurement.slice, points,
                           measurement.label)
    out.id = measurement.id
    return out
