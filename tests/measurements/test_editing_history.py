"""Editing measurements by their handles, and undo / redo of every change (pure core, no Qt)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctrg_desktop.io.volume import Volume
from ctrg_desktop.measurements import MeasurementError, MeasurementSet, make_measurement
from ctrg_desktop.measurements.editing import edited, handles, moved_points
from ctrg_desktop.measurements.history import MeasurementHistory


@pytest.fixture
def volume():
    """12 x 40 x 50 voxels at (3, 2, 1) mm; HU = 10 * column index (so an ROI's mean says where it is)."""
    array = np.broadcast_to((10 * np.arange(50, dtype=np.int16))[None, None, :], (12, 40, 50)).copy()
    return Volume(array, spacing=(3.0, 2.0, 1.0), origin=(-20.0, 5.0, 100.0))


def _w(volume, kji):
    return volume.voxel_to_world(np.asarray(kji, float))


def test_line_handles_move_ends_and_the_whole_line(volume):
    line = make_measurement(volume, "line", "axial", 4, [_w(volume, (4, 10, 10)), _w(volume, (4, 10, 40))])
    assert line.values["length_mm"] == pytest.approx(30.0)
    ends = handles(volume, line)
    assert set(ends) == {"start", "end", "centre"}
    np.testing.assert_allclose(ends["centre"], _w(volume, (4, 10, 25)))
    # the end dragged 8 rows down (16 mm): 30 x 16 mm right triangle
    longer = edited(volume, line, moved_points(volume, line, "end", ends["end"], _w(volume, (4, 18, 40))))
    assert longer.id == line.id and longer.label == line.label
    assert longer.values["length_mm"] == pytest.approx(math.hypot(30.0, 16.0))
    # the centre dragged: same length, moved; a point off the slice is put on it
    moved = moved_points(volume, line, "centre", ends["centre"], _w(volume, (9, 20, 25)))
    np.testing.assert_allclose(volume.world_to_voxel(moved), [[4, 20, 10], [4, 20, 40]], atol=1e-9)
    with pytest.raises(MeasurementError, match="no handle"):
        moved_points(volume, line, "row-", ends["end"], ends["end"])
    with pytest.raises(MeasurementError, match="shorter than a voxel"):
        edited(volume, line, moved_points(volume, line, "end", ends["end"], ends["start"]))


def test_ellipse_side_handle_moves_one_side_and_statistics_follow(volume):
    roi = make_measurement(volume, "ellipse", "axial", 2, [_w(volume, (2, 10, 10)), _w(volume, (2, 20, 20))])
    assert roi.values["mean"] == pytest.approx(150.0)  # columns 10..20, symmetric about 15
    sides = handles(volume, roi)
    np.testing.assert_allclose(volume.world_to_voxel(sides["col+"]), [2, 15, 20], atol=1e-9)
    np.testing.assert_allclose(volume.world_to_voxel(sides["row-"]), [2, 10, 15], atol=1e-9)
    wider = edited(volume, roi, moved_points(volume, roi, "col+", sides["col+"], _w(volume, (2, 15, 40))))
    # columns 10..40: mean 250 HU; the area is pi * 5 rows * 2 mm * 15 columns * 1 mm
    assert wider.values["mean"] == pytest.approx(250.0)
    assert wider.values["area_mm2"] == pytest.approx(math.pi * 10.0 * 15.0)
    np.testing.assert_allclose(volume.world_to_voxel(wider.points), [[2, 10, 10], [2, 20, 40]], atol=1e-9)


def test_history_undoes_each_change_back_to_the_saved_state(volume):
    measurements = MeasurementSet(volume.shape, volume.spacing)
    history = MeasurementHistory(measurements)
    a = history.add(make_measurement(volume, "line", "axial", 1, [_w(volume, (1, 5, 5)), _w(volume, (1, 5, 25))]))
    b = history.add(make_measurement(volume, "ellipse", "coronal", 8,
                                     [_w(volume, (3, 8, 10)), _w(volume, (9, 8, 20))]))
    measurements.mark_clean()
    saved = [m.to_json() for m in measurements]
    history.rename(a.id, "aorta")
    ends = handles(volume, measurements.get(a.id))
    history.edit(edited(volume, measurements.get(a.id),
                        moved_points(volume, measurements.get(a.id), "end", ends["end"], _w(volume, (1, 5, 45)))))
    history.remove(b.id)
    assert [m.label for m in measurements] == ["aorta"] and measurements.get(a.id).values["length_mm"] == 40.0
    assert [s.text for s in history.undo_steps][-3:] == ["rename M1 to aorta", "edit aorta (length)", "delete M2"]
    clocks = [s.clock for s in history.undo_steps]
    assert clocks == sorted(clocks) and len(set(clocks)) == len(clocks)
    assert history.undo() == "delete M2"
    assert [m.label for m in measurements] == ["aorta", "M2"]  # back in its place
    assert history.undo() == "edit aorta (length)" and measurements.get(a.id).values["length_mm"] == 20.0
    assert history.undo() == "rename M1 to aorta"
    assert [m.to_json() for m in measurements] == saved and not measurements.is_modified
    assert history.redo() == "rename M1 to aorta" and measurements.is_modified
    history.undo()
    assert not measurements.is_modified
    # a new change clears the redo steps; undoing it is modified-free again
    history.remove(a.id)
    assert not history.can_redo and measurements.is_modified
    history.undo()
    assert not measurements.is_modified and [m.to_json() for m in measurements] == saved
    while history.can_undo:
        history.undo()
    assert len(measurements) == 0 and history.undo() is None
    while history.can_redo:  # add M1, add M2, delete M1 again
        history.redo()
    assert [m.label for m in measurements] == ["M2"] and measurements.is_modified
    history.undo()
    assert [m.to_json() for m in measurements] == saved and not measurements.is_modified
