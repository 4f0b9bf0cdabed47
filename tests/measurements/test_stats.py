"""Ellipse statistics against values worked out by hand, and measurements made on a real grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctrg_desktop.io.volume import Volume
from ctrg_desktop.measurements import MeasurementError, ellipse_mask, ellipse_stats, make_measurement
from ctrg_desktop.measurements.geometry import ellipse_axes_world, ellipse_outline

#: plane[r, c] = 10 r + c
PLANE = (10 * np.arange(5)[:, None] + np.arange(5)[None, :]).astype(np.int16)


def test_unit_circle_holds_the_centre_and_its_four_neighbours():
    stats = ellipse_stats(PLANE, (2, 2), (1, 1), (2.0, 3.0))
    # 22 and its neighbours 12, 32, 21, 23: mean 110 / 5 = 22; squared deviations 0+100+100+1+1 = 202
    assert stats.voxels == 5
    assert stats.mean == pytest.approx(22.0)
    assert stats.sd == pytest.approx(math.sqrt(202 / 5))  # 6.356 (population SD)
    assert (stats.minimum, stats.maximum) == (12.0, 32.0)
    assert stats.area_mm2 == pytest.approx(math.pi * 1 * 2.0 * 1 * 3.0)  # pi a b in mm: 18.85


def test_elongated_ellipse():
    stats = ellipse_stats(PLANE, (2, 2), (1, 2), (1.0, 1.0))
    # row 2 whole (20..24) and the column centre of rows 1 and 3 (12, 32): 154 / 7 = 22
    assert stats.voxels == 7 and stats.mean == pytest.approx(22.0)
    assert stats.sd == pytest.approx(math.sqrt((4 + 1 + 0 + 1 + 4 + 100 + 100) / 7))  # sqrt(30)
    assert stats.area_mm2 == pytest.approx(2 * math.pi)
    expected = np.zeros((5, 5), bool)
    expected[2, :] = True
    expected[1, 2] = expected[3, 2] = True
    np.testing.assert_array_equal(ellipse_mask((5, 5), (2, 2), (1, 2)), expected)


def test_ellipse_over_the_edge_counts_only_voxels_inside_the_slice():
    stats = ellipse_stats(PLANE, (0, 0), (1, 1), (1.0, 1.0))
    assert stats.voxels == 3 and stats.mean == pytest.approx(11 / 3)  # 0, 1, 10
    assert (stats.minimum, stats.maximum) == (0.0, 10.0)
    assert stats.area_mm2 == pytest.approx(math.pi)  # the ellipse's own area


def test_ellipse_without_a_voxel_centre_and_bad_axes():
    stats = ellipse_stats(PLANE, (0.5, 0.5), (0.4, 0.4), (1.0, 1.0))
    assert stats.voxels == 0 and math.isnan(stats.mean)
    assert stats.to_json()["mean"] is None and stats.to_json()["area_mm2"] == pytest.approx(math.pi * 0.16)
    assert ellipse_stats(PLANE, (20, 20), (1, 1), (1, 1)).voxels == 0  # off the slice
    with pytest.raises(ValueError):
        ellipse_stats(PLANE, (2, 2), (0, 1), (1, 1))


@pytest.fixture
def volume():
    """40 x 64 x 64 at (5, 4, 3) mm, patient axes flipped: HU = 100 k + 10 j + i % 10 ... known."""
    k, j, i = np.mgrid[0:40, 0:64, 0:64]
    array = (k * 1000 + j * 10 + i).astype(np.float32)
    direction = np.column_stack([[0, 0, -1], [0, -1, 0], [-1, 0, 0]]).astype(float)
    return Volume(array, spacing=(5.0, 4.0, 3.0), origin=(10.0, -20.0, 50.0), direction=direction)


def _world(volume, *kji):
    return volume.voxel_to_world(np.array(kji, float))


def test_line_length_in_mm_on_each_view(volume):
    axial = make_measurement(volume, "line", "axial", 20, _world(volume, (20, 10, 10), (20, 10, 50)))
    assert axial.values["length_mm"] == pytest.approx(40 * 3.0)
    assert axial.summary() == "120.0 mm" and axial.where() == "Axial 21"
    coronal = make_measurement(volume, "line", "coronal", 30, _world(volume, (10, 30, 5), (14, 30, 8)))
    assert coronal.values["length_mm"] == pytest.approx(math.hypot(4 * 5.0, 3 * 3.0))  # 21.93 mm
    # points off the slice (a click a little in front) are moved onto it; the length is in-plane
    off = make_measurement(volume, "line", "sagittal", 7, _world(volume, (10, 2, 7.4), (10, 12, 6.8)))
    assert off.values["length_mm"] == pytest.approx(10 * 4.0)
    np.testing.assert_allclose(volume.world_to_voxel(off.points)[:, 2], [7, 7], atol=1e-9)


def test_ellipse_values_from_the_voxels_under_it(volume):
    m = make_measurement(volume, "ellipse", "axial", 20, _world(volume, (20, 10, 10), (20, 14, 16)))
    # centre (j 12, i 13), semi-axes 2 x 3 voxels -> 8 mm x 9 mm: area pi * 72 mm^2
    assert m.values["area_mm2"] == pytest.approx(math.pi * 8.0 * 9.0)
    mask = ellipse_mask((64, 64), (12, 13), (2, 3))
    expected = volume.array[20][mask].astype(float)
    assert m.values["voxels"] == mask.sum() == 1 + 5 + 7 + 5 + 1  # rows 10..14: |di| <= 0, 2, 3, 2, 0
    assert m.values["mean"] == pytest.approx(20000 + 120 + 13)  # symmetric about the centre
    assert m.values["sd"] == pytest.approx(expected.std())
    assert (m.values["minimum"], m.values["maximum"]) == (20000 + 100 + 13, 20000 + 140 + 13)
    assert m.summary().startswith("mean 20133.0 HU, SD ") and m.summary().endswith("area 226.2 mm\u00b2")
    outline = volume.world_to_voxel(ellipse_outline(volume, 0, 20, m.points, count=8))
    assert np.allclose(outline[:, 0], 20)
    assert np.allclose(((outline[:, 1] - 12) / 2) ** 2 + ((outline[:, 2] - 13) / 3) ** 2, 1)
    ends = ellipse_axes_world(volume, 0, 20, m.points)
    assert np.linalg.norm(ends[1] - ends[0]) == pytest.approx(18.0)  # the longer axis first (i: 2 x 9 mm)
    assert np.linalg.norm(ends[3] - ends[2]) == pytest.approx(16.0)


def test_ellipse_on_a_coronal_slice(volume):
    m = make_measurement(volume, "ellipse", "coronal", 32, _world(volume, (10, 32, 10), (12, 32, 12)))
    # rows are k (5 mm), columns i (3 mm): semi-axes 1 x 1 voxel -> 5 voxels, area pi * 5 * 3
    assert m.values["voxels"] == 5 and m.values["area_mm2"] == pytest.approx(math.pi * 15.0)
    assert m.values["mean"] == pytest.approx(11000 + 320 + 11)


def test_too_small_or_misplaced_measurements_are_refused(volume):
    with pytest.raises(MeasurementError, match="shorter than a voxel"):
        make_measurement(volume, "line", "axial", 3, _world(volume, (3, 5, 5), (3, 5, 5.4)))
    with pytest.raises(MeasurementError, match="narrower than a voxel"):
        make_measurement(volume, "ellipse", "axial", 3, _world(volume, (3, 5, 5), (3, 25, 5.5)))
    with pytest.raises(MeasurementError, match="outside"):
        make_measurement(volume, "line", "axial", 40, _world(volume, (3, 5, 5), (3, 25, 5)))
