"""Prompt geometry: top patches -> box and points on a slice, (row, col) vs (x, y), clipping."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrg_desktop.segmentation import SegmentationError, mask_box, prompts_from_patches, take_slice
from ctrg_desktop.segmentation.prompts import interior_point, region_box

SHAPE = (10, 20, 30)  # K, J, I: every axis a different size


def patch(first, last):
    """A top-patch record covering voxels ``first..last`` (k, j, i inclusive), as inference writes it."""
    first, last = np.asarray(first, float), np.asarray(last, float)
    return {"box_voxels": [list(first - 0.5), list(last + 0.5)], "centre_voxel": list((first + last) / 2)}


def rasterise(patches, shape=SHAPE):
    out = np.zeros(shape, dtype=bool)
    for p in patches:
        lo = np.ceil(np.asarray(p["box_voxels"][0]) + 0.5).astype(int).clip(0)
        hi = np.floor(np.asarray(p["box_voxels"][1]) - 0.5).astype(int)
        out[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1] = True
    return out


def test_take_slice_planes_have_the_documented_row_and_column_axes():
    vol = np.arange(np.prod(SHAPE)).reshape(SHAPE)
    assert take_slice(vol, 0, 3).shape == (20, 30)      # rows j, cols i
    assert take_slice(vol, 1, 3).shape == (10, 30)      # rows k, cols i
    assert take_slice(vol, 2, 3).shape == (10, 20)      # rows k, cols j
    assert take_slice(vol, 1, 4)[7, 9] == vol[7, 4, 9]
    assert take_slice(vol, 2, 5)[7, 9] == vol[7, 9, 5]
    with pytest.raises(SegmentationError, match="outside"):
        take_slice(vol, 2, 30)
    with pytest.raises(SegmentationError, match="axis"):
        take_slice(vol, 3, 0)


def test_one_patch_on_each_axis_box_is_x_col_y_row():
    p = patch((2, 4, 6), (5, 9, 17))                    # k 2..5, j 4..9, i 6..17
    axial = prompts_from_patches([p], 0, 3, SHAPE)
    assert axial.box == (6.0, 4.0, 17.0, 9.0)            # x = i, y = j
    assert axial.points == [(11.5, 6.5, True)]
    coronal = prompts_from_patches([p], 1, 5, SHAPE)
    assert coronal.box == (6.0, 2.0, 17.0, 5.0)          # x = i, y = k
    assert coronal.points == [(11.5, 3.5, True)]
    sagittal = prompts_from_patches([p], 2, 10, SHAPE)
    assert sagittal.box == (4.0, 2.0, 9.0, 5.0)          # x = j, y = k
    assert sagittal.points == [(6.5, 3.5, True)]
    assert sagittal.patches == [p] and bool(sagittal)


def test_slices_outside_the_patch_get_no_prompt_and_edges_are_exclusive():
    p = patch((2, 4, 6), (5, 9, 17))
    for axis, index in ((0, 1), (0, 6), (1, 3), (1, 10), (2, 5), (2, 18)):
        prompt = prompts_from_patches([p], axis, index, SHAPE)
        assert prompt.box is None and prompt.points == [] and not prompt
    assert prompts_from_patches([p], 0, 2, SHAPE).box is not None
    assert prompts_from_patches([p], 0, 5, SHAPE).box is not None


def test_union_of_intersecting_patches_only():
    a, b = patch((0, 2, 3), (4, 5, 8)), patch((3, 10, 20), (8, 15, 25))
    c = patch((7, 0, 0), (9, 19, 29))                  # not on slice 3
    prompt = prompts_from_patches([a, b, c], 0, 3, SHAPE)
    assert prompt.box == (3.0, 2.0, 25.0, 15.0)
    assert prompt.points == [(5.5, 3.5, True), (22.5, 12.5, True)]
    assert prompt.patches == [a, b]


def test_clipping_to_the_slice_and_dropping_patches_outside_it():
    near = {"box_voxels": [[-3.2, -4.5, 25.1], [2.4, 6.0, 40.0]], "centre_voxel": [-0.4, 0.75, 32.5]}
    outside = patch((0, 0, 35), (4, 5, 40))             # beyond I = 30
    prompt = prompts_from_patches([near, outside], 0, 1, SHAPE)
    assert prompt.box == pytest.approx((25.6, 0.0, 29.0, 5.5))
    assert prompt.points == []                          # centre column 32.5 is off the slice
    assert prompt.patches == [near]
    unclipped = prompts_from_patches([near, outside], 0, 1)
    assert unclipped.box == pytest.approx((25.6, -4.0, 40.0, 5.5))
    assert len(unclipped.points) == 2
    with pytest.raises(SegmentationError, match="box_voxels"):
        prompts_from_patches([{"centre_voxel": [1, 2, 3]}], 0, 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 19), st.integers(0, 19),
                          st.integers(0, 29), st.integers(0, 29)), min_size=1, max_size=4),
       st.integers(0, 2), st.integers(0, 29))
def test_box_is_the_bounding_box_of_the_rasterised_patches_on_the_slice(specs, axis, index):
    index = index % SHAPE[axis]
    patches = [patch((min(k0, k1), min(j0, j1), min(i0, i1)), (max(k0, k1), max(j0, j1), max(i0, i1)))
               for k0, k1, j0, j1, i0, i1 in specs]
    prompt = prompts_from_patches(patches, axis, index, SHAPE)
    expected = mask_box(take_slice(rasterise(patches), axis, index))
    assert prompt.box == (None if expected is None else pytest.approx(expected))
    for x, y, positive in prompt.points:
        assert positive and prompt.box[0] <= x <= prompt.box[2] and prompt.box[1] <= y <= prompt.box[3]


def test_mask_box_interior_point_and_region_box():
    mask = np.zeros((12, 30), dtype=bool)
    mask[2:9, 20:27] = True
    assert mask_box(mask) == (20, 2, 26, 8)
    assert mask_box(mask, margin=5) == (15, 0, 29, 11)
    assert mask_box(np.zeros((4, 4), bool)) is None
    assert interior_point(mask) == (23.0, 5.0)
    assert interior_point(np.zeros((4, 4), bool)) is None
    image = np.where(mask, 0.9, 0.1).astype(np.float32)
    x0, y0, x1, y1 = region_box(image, [(23, 5, True)])
    assert 19 <= x0 <= 20 and 1 <= y0 <= 2 and 26 <= x1 <= 27 and 8 <= y1 <= 9
    assert region_box(image, [(23, 5, False)]) is None
