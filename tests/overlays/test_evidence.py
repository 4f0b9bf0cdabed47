"""Evidence of a draft on the study grid (pure numpy, no display): patch lookup, heat maps, boxes."""

import numpy as np
import pytest

from ctrg_desktop.imaging.patches import PatchGrid
from ctrg_desktop.imaging.pipeline import prepare_volume
from ctrg_desktop.imaging.window import PAPER_WINDOW
from ctrg_desktop.io.volume import Volume
from ctrg_desktop.overlays import BoxLayer, HeatmapLayer, LayerList
from ctrg_desktop.overlays.colormaps import hex_to_rgb
from ctrg_desktop.overlays.evidence import EvidenceLayers, heat_levels, patch_box
from ctrg_desktop.overlays.patch_lookup import PatchLookup, geometry_mismatch, geometry_of


def _study(shape=(30, 40, 50), spacing=(4.0, 3.0, 2.0), origin=(-40.0, -60.0, 100.0)):
    rng = np.random.default_rng(0)
    return Volume(rng.integers(-1000, 400, size=shape).astype(np.int16), spacing=spacing, origin=origin)


def _preprocessing(study, spacing=(5.0, 4.0, 4.0), shape=(16, 32, 32), patch=(4, 8, 8)):
    """The draft's preprocessing record, made by the same pipeline ``draft_report`` uses."""
    prepared = prepare_volume(study, spacing, shape, PAPER_WINDOW)
    grid = PatchGrid(shape, patch)
    return prepared, grid, {"patch": list(patch), "grid_counts": list(grid.counts), "num_patches": grid.num_patches,
                            "model_grid": geometry_of(prepared.grid)}


def test_lookup_matches_the_world_mapping_voxel_by_voxel():
    study = _study()
    prepared, grid, pre = _preprocessing(study)
    lookup = PatchLookup(pre, geometry_of(study))
    assert lookup.separable
    values = np.arange(grid.num_patches, dtype=np.float32) + 1  # patch n has value n + 1
    heat = lookup.heat(values)
    assert heat.shape == study.shape and heat.dtype == np.float32
    rng = np.random.default_rng(1)
    kji = np.stack([rng.integers(0, n, 300) for n in study.shape], axis=1)
    model = np.round(prepared.grid.world_to_voxel(study.voxel_to_world(kji))).astype(int)
    inside = np.all((model >= 0) & (model < grid.shape), axis=1)
    expected = np.where(inside, 0, -1)
    expected[inside] = grid.patch_of_voxel(model[inside])
    assert inside.any() and (~inside).any()  # the crop cuts the study: both cases are tested
    assert np.array_equal(heat[tuple(kji.T)], expected + 1.0)  # outside the model grid: 0
    assert [lookup.patch_index(p) for p in kji[:20]] == list(expected[:20])


def test_general_orientation_uses_the_slice_by_slice_path():
    study = _study(shape=(12, 20, 24))
    prepared, grid, pre = _preprocessing(study, shape=(8, 16, 16), patch=(4, 8, 8))
    geometry = geometry_of(study)
    swapped = dict(geometry, direction=np.asarray(study.direction)[:, [0, 2, 1]].tolist(),
                   spacing=[geometry["spacing"][0], geometry["spacing"][2], geometry["spacing"][1]],
                   shape=[12, 24, 20])
    lookup = PatchLookup(pre, swapped)  # the same space seen through transposed j/i axes
    assert not lookup.separable
    values = np.arange(grid.num_patches, dtype=np.float32) + 1
    direct = PatchLookup(pre, geometry).heat(values)
    assert np.array_equal(lookup.heat(values), direct.transpose(0, 2, 1))


def test_patch_box_clips_to_the_study():
    rgb = hex_to_rgb("#ff8000")
    assert rgb == pytest.approx((1.0, 128 / 255, 0.0))
    box = patch_box({"box_voxels": [[-0.5, 10.2, 3.5], [15.5, 20.7, 9.5]]}, (10, 30, 40), rgb, "x #1")
    assert (box.k0, box.k1, box.j0, box.j1, box.i0, box.i1) == (0, 10, 11, 21, 4, 10)
    assert box.colour == rgb and box.label == "x #1"
    assert patch_box({"box_voxels": [[20.0, 0, 0], [30.0, 5, 5]]}, (10, 30, 40), rgb) is None  # wholly outside


def test_heat_levels_show_the_top_of_the_row():
    row = np.linspace(0.0, 1.0, 101)
    threshold, top = heat_levels(row)
    assert top == 1.0 and threshold == pytest.approx(0.9)
    flat = np.full(10, 0.5)
    threshold, top = heat_levels(flat)
    assert threshold < top == 0.5  # a flat row still shows


def test_geometry_mismatch_names_what_differs():
    study = _study()
    same = geometry_of(study)
    assert geometry_mismatch(same, study) is None
    assert "30 x 40 x 50" in geometry_mismatch(dict(same, shape=[30, 40, 51]), study)
    assert "spacing" in geometry_mismatch(dict(same, spacing=[4.0, 3.0, 2.5]), study)
    assert "mm away" in geometry_mismatch(dict(same, origin=[-40.0, -60.0, 110.0]), study)


class _Draft:
    """The parts of a DraftReport that EvidenceLayers reads."""

    def __init__(self, preprocessing, attention, structures):
        self.preprocessing, self.attention, self.structures = preprocessing, attention, structures

    def attention_grid(self, index):
        return self.attention[index].reshape(self.preprocessing["grid_counts"])


class _Structure:
    def __init__(self, index, name, colour, top_patches):
        self.index, self.name, self.colour, self.top_patches = index, name, colour, top_patches


def test_evidence_layers_show_focus_and_find_patches():
    study = _study()
    prepared, grid, pre = _preprocessing(study)
    attention = np.random.default_rng(2).random((2, grid.num_patches)).astype(np.float32)
    structures = []
    for n, colour in enumerate(("#ff0000", "#00ff00")):
        top = np.argsort(-attention[n])[:3]
        boxes = prepared.patch_boxes_in_study(grid, top)
        structures.append(_Structure(n, f"s{n}", colour, [
            {"rank": r + 1, "score": float(attention[n, i]), "box_voxels": boxes[r].tolist(),
             "centre_voxel": boxes[r].mean(axis=0).tolist(), "inside_study": True} for r, i in enumerate(top)]))
    layers = LayerList(study.shape)
    evidence = EvidenceLayers(_Draft(pre, attention, structures), layers, geometry_of(study))
    evidence.set_shown(0, True)
    evidence.set_shown(1, True)
    assert layers.names == ["attention: s0", "patches: s0", "attention: s1", "patches: s1"]
    assert isinstance(layers["attention: s0"], HeatmapLayer) and isinstance(layers["patches: s1"], BoxLayer)
    heat = layers["attention: s0"]
    assert heat.visible_mask().mean() == pytest.approx(0.1, abs=0.08)  # about the top tenth of the patches
    evidence.focus(1)
    assert layers["patches: s0"].opacity < 1.0 and not layers["attention: s0"].visible
    assert layers["patches: s1"].opacity == 1.0 and layers["attention: s1"].visible
    box, patch = evidence.boxes(1)[0]
    centre = [(lo + hi - 1) // 2 for lo, hi in zip(box.lows, box.highs)]
    hits = evidence.patches_at(centre)
    assert hits[0] == (1, patch)  # the focused structure first
    evidence.set_shown(0, False)
    assert layers.names == ["attention: s1", "patches: s1"]
    evidence.clear()
    assert len(layers) == 0
