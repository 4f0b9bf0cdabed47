"""The pure mask model behind the Masks dock: names, structures, colours, voxel edits, undo/redo, export."""

from __future__ import annotations

import numpy as np
import pytest

from ctrg_desktop.segmentation.brush import disc, stroke
from ctrg_desktop.segmentation.masks import MaskError, MaskSet, slice_view
from ctrg_desktop.workers.pipe import pack, unpack

SHAPE = (6, 8, 10)


def events(masks):
    seen = []
    masks.changed.connect(lambda mask, what: seen.append((mask.name, what)))
    return seen


def test_add_rename_assign_colour_delete_with_undo_and_redo():
    masks = MaskSet(SHAPE)
    seen = events(masks)
    a = masks.add()
    b = masks.add("heart", colour="#E53935", structure="mediastinum and heart")
    assert masks.names == ["Mask 1", "heart"] and a.colour != b.colour and b.colour == "#e53935"
    assert masks.unique_name("heart") == "heart 2" and masks.unique_name("  lung   left ") == "lung left"
    masks.rename("Mask 1", "  left   lung ")
    masks.assign("left lung", "lung")
    masks.set_colour("left lung", "#00ff00")
    masks.remove("heart")
    assert masks.names == ["left lung"] and a.structure == "lung" and a.colour == "#00ff00"
    assert seen[-1] == ("heart", "removed")
    assert masks.undo() == "delete mask heart" and masks.names == ["left lung", "heart"]
    assert masks.undo().startswith("recolour") and a.colour != "#00ff00"
    assert masks.undo().startswith("assign") and a.structure is None
    assert masks.undo().startswith("rename") and a.name == "Mask 1"
    assert masks.redo().startswith("rename") and a.name == "left lung"
    masks.assign("left lung", "bone")  # a new edit drops the redo history
    assert not masks.can_redo and masks.redo() is None
    masks.set_visible("left lung", False)
    masks.set_opacity("left lung", 0.8)
    assert not a.visible and a.opacity == 0.8 and masks.undo_text.startswith("assign")  # display state: no undo


@pytest.mark.parametrize("call, message", [
    (lambda m: m.add("heart"), "exists already"),
    (lambda m: m.rename("heart", "lung"), "exists already"),
    (lambda m: m.rename("heart", "   "), "needs a name"),
    (lambda m: m.get("spleen"), "no mask named 'spleen'; there are heart, lung"),
    (lambda m: m.set_colour("heart", "red"), "#rrggbb"),
    (lambda m: m.add("x", array=np.zeros((2, 2, 2))), "has shape (2, 2, 2), the study (6, 8, 10)"),
    (lambda m: m.set_slice("heart", 0, 9, np.zeros((8, 10))), "slice 9 is outside the 6 slices"),
    (lambda m: m.set_slice("heart", 1, 0, np.zeros((8, 10))),
     "the 2D mask is (8, 10) but slice 0 along axis 1 is (6, 10)"),
    (lambda m: m.set_opacity("heart", 2), "opacity is 0..1"),
])
def test_bad_input_is_a_one_line_error(call, message):
    masks = MaskSet(SHAPE)
    masks.add("heart")
    masks.add("lung")
    with pytest.raises(MaskError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(masks)


def test_slice_and_volume_edits_undo_exactly():
    masks = MaskSet(SHAPE)
    mask = masks.add("m")
    square = np.zeros((8, 10), bool)
    square[2:5, 3:7] = True
    assert masks.set_slice("m", 0, 2, square) == 12
    assert np.array_equal(mask.array[2], square) and mask.voxels == 12
    assert masks.set_slice("m", 0, 2, square) == 0 and masks.undo_text.startswith("edit")  # no change: no step
    other = np.zeros((6, 10), bool)
    other[1:4, 0:2] = True
    masks.set_slice("m", 1, 3, other, mode="add")  # a coronal slice
    assert mask.array[1:4, 3, 0:2].all() and mask.voxels == 12 + 6
    masks.set_slice("m", 0, 2, square, mode="subtract")
    assert mask.voxels == 6 and mask.array[2].sum() == 2 and mask.array[2, 3, 0:2].all()  # the coronal part stays
    before = mask.array.copy()
    volume = np.zeros(SHAPE, bool)
    volume[0:6, 6, 8] = True
    assert masks.set_volume("m", volume, "add") == 6 and np.array_equal(mask.slices_used(0), np.arange(6))
    masks.undo()
    assert np.array_equal(mask.array, before)
    masks.undo()
    masks.undo()
    assert np.array_equal(mask.array[2], square) and mask.voxels == 12
    masks.undo()
    assert mask.voxels == 0
    masks.redo()
    assert mask.voxels == 12


def test_brush_stroke_is_one_undo_step():
    masks = MaskSet(SHAPE)
    mask = masks.add("m", algorithm=None)
    seen = events(masks)
    plane = masks.begin_slice_edit("m", 0, 1)
    plane[stroke(plane.shape, (1, 1), (8, 1), (1.0, 1.0))] = True
    masks.touched()
    assert masks.editing and seen[-1] == ("m", "data")
    plane[disc(plane.shape, (8, 6), (1.5, 1.5))] = False
    assert masks.end_slice_edit() > 0 and not masks.editing
    painted = mask.array[1].copy()
    assert painted[1, 1:9].all() and painted.sum() > 8
    masks.undo()
    assert mask.voxels == 0
    masks.redo()
    assert np.array_equal(mask.array[1], painted)
    masks.begin_slice_edit("m", 0, 1)
    assert masks.end_slice_edit() == 0 and masks.undo_text.startswith("paint")  # an empty stroke: no step


def test_disc_follows_anisotropic_pixels():
    d = disc((20, 20), (10, 10), (4.0, 2.0))
    rows, cols = np.nonzero(d)
    assert cols.max() - cols.min() == 8 and rows.max() - rows.min() == 4
    assert disc((5, 5), (2, 2), (0.1, 0.1)).sum() == 1  # at least the pixel under the brush
    assert not disc((5, 5), (40, 40), (2, 2)).any()


def test_specs_are_export_mask_specs_of_non_empty_masks():
    from ctrg_desktop.export import MaskSpec
    from ctrg_desktop.export.masks import checked_masks

    masks = MaskSet(SHAPE)
    masks.add("empty")
    full = masks.add("heart", colour="#E53935", structure="mediastinum and heart")
    masks.set_slice("heart", 0, 3, np.ones((8, 10), bool))
    specs = masks.specs()
    assert len(specs) == 1 and isinstance(specs[0], MaskSpec)
    spec = specs[0]
    assert (spec.name, spec.colour, spec.structure, spec.algorithm) == ("heart", "#e53935", "mediastinum and heart",
                                                                       "LiteMedSAM")
    assert spec.array.dtype == bool and spec.array.shape == SHAPE and spec.array.sum() == 80
    assert spec.array is not full.array
    assert checked_masks(specs, SHAPE)[0].rgb == (0xe5, 0x39, 0x35)


def test_outline_segments_follow_pixel_edges():
    from ctrg_desktop.app.segment.outlines import outline_segments

    square = np.zeros((5, 6), bool)
    square[1:3, 2:5] = True  # 2 rows x 3 columns
    edges = outline_segments(square)
    assert len(edges) == 2 * (2 + 3)
    xs, ys = edges[..., 0], edges[..., 1]
    assert xs.min() == 1.5 and xs.max() == 4.5 and ys.min() == 0.5 and ys.max() == 2.5
    assert np.allclose(np.abs(edges[:, 1] - edges[:, 0]).sum(axis=1), 1.0)  # unit pixel edges
    assert len(outline_segments(np.zeros((3, 3), bool))) == 0


def test_pack_round_trip_and_slice_view_writes_through():
    rng = np.random.default_rng(0)
    mask = rng.random((5, 7, 9)) > 0.5
    assert np.array_equal(unpack(pack(mask)), mask)
    array = np.zeros((3, 4, 5), bool)
    slice_view(array, 2, 1)[...] = True
    assert array[:, :, 1].all() and array.sum() == 12
