"""Thick-slab projections (ctrg_desktop.imaging.slab) against hand-computed arrays."""

import numpy as np
import pytest

from ctrg_desktop.imaging.slab import slab_half_width, slab_projection, slab_range, slab_thickness


def _volume():
    """5 slices (k) of 2 x 3: slice k holds k * 10 + the in-plane position, one dip and one peak."""
    v = np.zeros((5, 2, 3), np.int16)
    for k in range(5):
        v[k] = k * 10 + np.arange(6, dtype=np.int16).reshape(2, 3)
    v[1, 0, 0] = -100  # a dark voxel (MinIP finds it)
    v[3, 1, 2] = 500  # a bright voxel (MIP finds it)
    return v


@pytest.mark.parametrize("thickness, spacing, half", [
    (1.0, 1.0, 0), (3.0, 1.0, 1), (2.9, 1.0, 1), (5.0, 1.0, 2),
    (20.0, 1.5, 6),  # 13 slices = 19.5 mm, nearer to 20 than 11 (16.5) or 15 (22.5)
    (10.0, 5.0, 1),  # 2 slices asked: tie between 1 (5 mm) and 3 (15 mm) -> the thicker
    (4.0, 5.0, 0),  # thinner than a slice: the slice
    (50.0, 0.7, 35),  # 71 slices = 49.7 mm
])
def test_half_width_follows_spacing(thickness, spacing, half):
    assert slab_half_width(thickness, spacing) == half


def test_range_is_centred_and_clipped():
    assert slab_range(2, 5, 6.0, 2.0) == (1, 4)  # 3 slices of 2 mm
    assert slab_range(0, 5, 6.0, 2.0) == (0, 2)  # first slice: clipped
    assert slab_range(4, 5, 6.0, 2.0) == (3, 5)
    assert slab_range(2, 5, 100.0, 2.0) == (0, 5)
    assert slab_thickness(2, 5, 6.0, 2.0) == 6.0 and slab_thickness(0, 5, 6.0, 2.0) == 4.0
    with pytest.raises(IndexError):
        slab_range(5, 5, 6.0, 2.0)
    with pytest.raises(ValueError):
        slab_half_width(10.0, 0.0)


def test_mip_minip_mean_axial_by_hand():
    v = _volume()
    # slab of 3 slices around k = 2 (spacing 2 mm, 6 mm): slices 1, 2, 3
    mip = slab_projection(v, 0, 2, 6.0, 2.0, "mip")
    assert mip.dtype == np.int16
    np.testing.assert_array_equal(mip, [[30, 31, 32], [33, 34, 500]])
    minip = slab_projection(v, 0, 2, 6.0, 2.0, "minip")
    np.testing.assert_array_equal(minip, [[-100, 11, 12], [13, 14, 15]])
    mean = slab_projection(v, 0, 2, 6.0, 2.0, "mean")
    assert mean.dtype == np.int16
    # (-100 + 20 + 30) / 3 = -16.67 -> -17; (15 + 25 + 500) / 3 = 180; others: the middle slice
    np.testing.assert_array_equal(mean, [[-17, 21, 22], [23, 24, 180]])
    np.testing.assert_array_equal(slab_projection(v, 0, 2, 6.0, 2.0, "off"), v[2])


def test_thickness_in_mm_uses_the_axis_spacing():
    v = _volume()
    # 5 mm at 1 mm spacing: 5 slices, the whole volume
    assert slab_range(2, 5, 5.0, 1.0) == (0, 5)
    np.testing.assert_array_equal(slab_projection(v, 0, 2, 5.0, 1.0, "mip"), v.max(axis=0))
    # 6 mm at 6 mm spacing: the slice alone
    np.testing.assert_array_equal(slab_projection(v, 0, 2, 6.0, 6.0, "mip"), v[2])


def test_other_axes_and_edges():
    v = _volume()
    # coronal (axis 1, 2 rows): 3 mm at 1.5 mm spacing is 2 slices, a tie -> 3, clipped at row 0: both rows
    np.testing.assert_array_equal(slab_projection(v, 1, 0, 3.0, 1.5, "mip"), v.max(axis=1))
    # sagittal (axis 2, 3 columns) at the last column with a 3-slice slab: columns 1, 2
    expected = np.minimum(v[:, :, 1], v[:, :, 2])
    np.testing.assert_array_equal(slab_projection(v, 2, 2, 3.0, 1.0, "minip"), expected)
    mean = slab_projection(v.astype(np.float64), 2, 1, 3.0, 1.0, "mean")
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, v.astype(np.float64).mean(axis=2), rtol=1e-6)


def test_out_buffer_and_bad_mode():
    v = _volume()
    out = np.empty((2, 3), np.int16)
    assert slab_projection(v, 0, 1, 6.0, 2.0, "mip", out=out) is out
    np.testing.assert_array_equal(out, v[:3].max(axis=0))
    assert slab_projection(v, 0, 1, 6.0, 2.0, "mean", out=out) is out
    with pytest.raises(ValueError):
        slab_projection(v, 0, 1, 6.0, 2.0, "average")


def test_random_volume_matches_numpy_reference():
    rng = np.random.default_rng(0)
    v = rng.integers(-1024, 2000, size=(20, 17, 13)).astype(np.int16)
    spacing = (1.25, 0.8, 2.0)
    for axis in range(3):
        for index in (0, 3, v.shape[axis] - 1):
            lo, hi = slab_range(index, v.shape[axis], 7.0, spacing[axis])
            block = np.take(v, np.arange(lo, hi), axis=axis).astype(np.float64)
            np.testing.assert_array_equal(slab_projection(v, axis, index, 7.0, spacing[axis], "mip"),
                                          block.max(axis=axis))
            np.testing.assert_array_equal(slab_projection(v, axis, index, 7.0, spacing[axis], "minip"),
                                          block.min(axis=axis))
            np.testing.assert_array_equal(slab_projection(v, axis, index, 7.0, spacing[axis], "mean"),
                                          np.rint(block.mean(axis=axis)))
