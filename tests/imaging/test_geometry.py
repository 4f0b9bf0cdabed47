"""Orientation round trips: a known voxel keeps its world point through resample/crop and back."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrg_desktop.imaging import (PatchGrid, centre_offsets, crop_or_pad, prepare_volume,
                                  resample_labels, resample_to_spacing)
from ctrg_desktop.io.volume import CANONICAL_DIRECTION, Volume


def _rotation(deg: float) -> np.ndarray:
    """Canonical direction rotated about z (a slight patient rotation / oblique acquisition)."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return rz @ CANONICAL_DIRECTION


def _bright_voxel_volume(shape, spacing, origin, direction, at) -> Volume:
    a = np.full(shape, -1000, np.int16)
    a[tuple(at)] = 1000
    return Volume(a, spacing, origin, direction)


def test_volume_affine_inverse():
    v = Volume(np.zeros((4, 5, 6), np.int16), (2.0, 0.7, 0.8), (-10, 5, 100), _rotation(7))
    pts = np.array([[0, 0, 0], [3, 4, 5], [1.5, 2.25, 0.5]])
    assert np.allclose(v.world_to_voxel(v.voxel_to_world(pts)), pts)
    assert np.allclose(v.voxel_to_world([0, 0, 0]), v.origin)
    assert v.orientation_code() == "LPS"


@settings(max_examples=25, deadline=None)
@given(
    spacing=st.tuples(*[st.floats(0.6, 4.0)] * 3),
    target=st.tuples(*[st.floats(0.6, 4.0)] * 3),
    angle=st.floats(-10, 10),
    frac=st.tuples(*[st.floats(0.3, 0.7)] * 3),
)
def test_resample_keeps_world_position(spacing, target, angle, frac):
    """A 12 mm bright block keeps its world centroid (within a voxel) through resampling."""
    shape = (24, 28, 32)
    v = Volume(np.full(shape, -1000, np.int16), spacing, (-50.0, 30.0, -200.0), _rotation(angle))
    lo = [int(f * n) for f, n in zip(frac, shape)]
    hi = [a + max(1, int(round(12 / s))) for a, s in zip(lo, spacing)]
    v.array[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = 1000
    r = resample_to_spacing(v, target, order=0)

    def centroid(vol):
        return vol.voxel_to_world(np.argwhere(vol.array == 1000)).mean(axis=0)

    tol = np.linalg.norm(np.maximum(spacing, target))
    assert np.linalg.norm(centroid(r) - centroid(v)) <= tol
    # extents agree: outer edges coincide within half a target voxel
    assert np.allclose(np.asarray(r.shape) * target, np.asarray(shape) * spacing,
                       atol=max(target) / 2 + 1e-6)


def test_resample_linear_preserves_constant_and_dtype():
    v = Volume(np.full((10, 12, 14), 40, np.int16), (3.0, 1.0, 1.0))
    r = resample_to_spacing(v, (1.5, 2.0, 2.0))
    assert r.shape == (20, 6, 7) and r.array.dtype == np.int16
    assert np.all(r.array[1:-1, 1:-1, 1:-1] == 40)
    f = resample_to_spacing(v.with_array(v.array.astype(np.float32)), (1.5, 2.0, 2.0))
    assert f.array.dtype == np.float32


@pytest.mark.parametrize("target", [(8, 10, 12), (30, 40, 50), (8, 40, 13)])
def test_crop_or_pad_maps_voxels_to_same_world(target):
    v = Volume(np.arange(20 * 24 * 28, dtype=np.int16).reshape(20, 24, 28) - 5000,
               (2.5, 0.8, 0.9), (12.0, -4.0, 7.0), _rotation(-5))
    c, off = crop_or_pad(v, target, pad_value=-1024)
    assert c.shape == target and off == centre_offsets(v.shape, target)
    for p in np.ndindex(*target):
        src = np.asarray(p) + off
        inside = np.all(src >= 0) and np.all(src < np.asarray(v.shape))
        if inside:
            assert c.array[p] == v.array[tuple(src)]
            assert np.allclose(c.voxel_to_world(p), v.voxel_to_world(src))
        else:
            assert c.array[p] == -1024


def test_crop_then_uncrop_restores_overlap():
    v = Volume(np.random.default_rng(0).integers(-1000, 1000, (16, 20, 24)).astype(np.int16), (1, 1, 1))
    c, off = crop_or_pad(v, (10, 30, 12))
    back, _ = crop_or_pad(c, v.shape, offsets=tuple(-o for o in off))
    assert np.allclose(back.origin, v.origin)
    keep = (slice(3, 13), slice(None), slice(6, 18))
    assert np.array_equal(back.array[keep], v.array[keep])


def test_resample_labels_nearest():
    src = Volume(np.zeros((10, 10, 10), np.int16), (2.0, 2.0, 2.0))
    labels = np.zeros(src.shape, np.uint8)
    labels[2:6, 2:6, 2:6] = 3
    dst = resample_to_spacing(src, (1.0, 1.0, 1.0))
    out = resample_labels(labels, src, dst)
    assert out.shape == dst.shape and set(np.unique(out)) == {0, 3}
    assert out.sum() == 3 * 8 * 8 * 8 * 8 // 8  # volume preserved: 4^3 voxels of 8 mm^3 -> 8^3 of 1


def test_patch_maps_back_to_study_voxel():
    """A bright voxel in the study lands in a model patch whose study box contains it."""
    study = _bright_voxel_volume((60, 70, 80), (1.25, 0.7, 0.7), (-120.0, -80.0, 400.0),
                                 _rotation(3), (31, 40, 17))
    prep = prepare_volume(study, spacing=(2.5, 1.5, 1.5), shape=(32, 32, 32))
    grid = PatchGrid((32, 32, 32), (8, 8, 8))
    hot = np.unravel_index(np.argmax(prep.grid.array), prep.grid.shape)
    idx = grid.patch_of_voxel(np.asarray(hot))
    box = prep.patch_boxes_in_study(grid, idx)
    assert np.all(box[0] <= np.array([31, 40, 17]) + 0.5) and np.all(np.array([31, 40, 17]) - 0.5 <= box[1])
    centre = prep.patch_centres_world(grid, idx)
    assert np.linalg.norm(centre - study.voxel_to_world([31, 40, 17])) < np.linalg.norm([2.5, 1.5, 1.5]) * 8
    assert prep.input.dtype == np.float32 and prep.input.min() >= -1.0 and prep.input.max() <= 1.0


def test_patch_grid_numbering_and_errors():
    grid = PatchGrid((24, 32, 32), (8, 16, 16))
    assert grid.counts == (3, 2, 2) and grid.num_patches == 12
    assert grid.patch_coords(5).tolist() == [1, 0, 1]
    assert grid.voxel_box(5).tolist() == [[8, 0, 16], [15, 15, 31]]
    assert grid.patch_of_voxel([15, 15, 31]) == 5
    with pytest.raises(ValueError, match="not divisible"):
        PatchGrid((25, 32, 32), (8, 16, 16))
