"""Grounding precision on a synthetic label map with hand-placed top-K patches."""

import numpy as np
import pytest

from ctrg_desktop.evaluation.grounding import grounding_precision
from ctrg_desktop.imaging.coverage import (legend_to_structure_map, patch_fractions, structure_index_map,
                                           study_patch_fractions)
from ctrg_desktop.imaging import PatchGrid, prepare_volume
from ctrg_desktop.io.volume import Volume

NAMES = ["lung", "bone", "others"]
GRID = PatchGrid((8, 8, 8), (4, 4, 4))          # 2 x 2 x 2 patches of 64 voxels
LUNG, BONE, OTHERS = 0, 1, 2


def _patch(k, j, i):
    return int(GRID.patch_of_voxel((k, j, i)))


@pytest.fixture
def smap():
    """lung fills patch (0,0,0); bone fills 3/4, 2/4 and 1/4 of the slices of patches
    (0,0,1), (0,1,0), (0,1,1); "others" fills the upper layer of patches."""
    m = np.full(GRID.shape, -1, dtype=np.int16)
    m[0:4, 0:4, 0:4] = LUNG
    m[0:3, 0:4, 4:8] = BONE
    m[0:2, 4:8, 0:4] = BONE
    m[0:1, 4:8, 4:8] = BONE
    m[4:8] = OTHERS
    return m


def test_patch_fractions(smap):
    frac = patch_fractions(smap, GRID, 3)
    assert frac.shape == (8, 3)
    assert frac[_patch(0, 0, 0)].tolist() == [1.0, 0.0, 0.0]
    assert frac[_patch(0, 0, 4), BONE] == 0.75 and frac[_patch(0, 4, 0), BONE] == 0.5
    assert frac[_patch(0, 4, 4), BONE] == 0.25 and frac[_patch(4, 0, 0), OTHERS] == 1.0
    # the block reshape agrees with the PatchGrid numbering (C order over pk, pj, pi)
    for p in range(GRID.num_patches):
        (k0, j0, i0), (k1, j1, i1) = GRID.voxel_box(p)
        assert frac[p, BONE] == (smap[k0:k1 + 1, j0:j1 + 1, i0:i1 + 1] == BONE).mean()
    with pytest.raises(ValueError, match="model grid"):
        patch_fractions(smap[:4], GRID, 3)


def test_known_precision(smap):
    frac = patch_fractions(smap, GRID, 3)
    topk = np.array([[_patch(0, 0, 0), _patch(4, 4, 4)],      # lung: 1 of 2 inside
                     [_patch(0, 4, 0), _patch(0, 4, 4)],      # bone: 50 % (inside) and 25 % (outside)
                     [_patch(4, 0, 0), _patch(4, 4, 4)]])     # others: excluded
    out = grounding_precision(topk, frac, NAMES)
    assert out["per_structure"] == {"lung": 0.5, "bone": 0.5} and out["mean"] == 0.5
    assert out["chance_per_structure"] == {"lung": 0.125, "bone": 0.25}
    assert out["k"] == 2 and out["n_studies"] == 1 and out["threshold"] == 0.5
    assert grounding_precision(topk, frac, NAMES, threshold=0.2)["per_structure"]["bone"] == 1.0
    assert grounding_precision(topk, frac, NAMES, threshold=0.6)["per_structure"]["bone"] == 0.0
    with_others = grounding_precision(topk, frac, NAMES, exclude=())
    assert with_others["per_structure"]["others"] == 1.0


def test_oracle_is_the_best_any_model_can_do_on_the_grid(smap):
    frac = patch_fractions(smap, GRID, 3)
    topk = np.array([[_patch(0, 0, 0), _patch(4, 4, 4)], [_patch(0, 4, 0), _patch(0, 4, 4)], [0, 1]])
    out = grounding_precision(topk, frac, NAMES)
    # lung fills one patch fully (the 2nd best holds none); bone's best two hold 75 % and 50 %
    assert out["oracle_per_structure"] == {"lung": 0.5, "bone": 1.0}
    thin = grounding_precision(topk, frac, NAMES, threshold=0.8)  # no patch is 80 % bone
    assert thin["oracle_per_structure"]["bone"] == 0.0
    assert thin["attainable_mean"] == thin["per_structure"]["lung"]  # bone cannot count


def test_batch_pools_studies_where_the_structure_is_present(smap):
    no_bone = np.where(smap == BONE, -1, smap)
    frac = np.stack([patch_fractions(smap, GRID, 3), patch_fractions(no_bone, GRID, 3)])
    topk = np.array([[[_patch(0, 0, 0), _patch(0, 0, 4)], [_patch(0, 0, 4), _patch(0, 4, 4)], [0, 1]],
                     [[_patch(4, 0, 0), _patch(0, 0, 0)], [_patch(0, 0, 0), 1], [0, 1]]])
    out = grounding_precision(topk, frac, NAMES)
    assert out["per_structure"]["lung"] == pytest.approx(2 / 4)     # 1/2 in each study
    assert out["per_structure"]["bone"] == pytest.approx(1 / 2)     # only study 0 counts
    assert out["studies"] == {"lung": 2, "bone": 1} and out["n_studies"] == 2
    absent = grounding_precision(topk[1], frac[1], NAMES)
    assert absent["per_structure"]["bone"] is None and absent["mean"] == 0.5


def test_bad_inputs(smap):
    frac = patch_fractions(smap, GRID, 3)
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        grounding_precision(np.full((3, 2), 8), frac, NAMES)
    with pytest.raises(ValueError, match="structure names"):
        grounding_precision(np.zeros((3, 2), int), frac, NAMES[:2])
    with pytest.raises(ValueError, match="threshold"):
        grounding_precision(np.zeros((3, 2), int), frac, NAMES, threshold=0.0)


def test_legend_and_label_map_on_the_model_grid():
    legend = {"3": {"name": "right lung", "structure": "lung"}, "20": {"name": "rib", "structure": "bone"}}
    assert legend_to_structure_map(legend, NAMES) == {3: LUNG, 20: BONE}
    assert legend_to_structure_map({3: "lung"}, NAMES) == {3: LUNG}
    with pytest.raises(ValueError, match="unknown structure"):
        legend_to_structure_map({3: "liver"}, NAMES)
    fine = np.zeros((12, 8, 8), dtype=np.int16)
    fine[2:6] = 3                                  # study slices 2..5 -> model-grid slices 0..3 after the crop
    fine[6:10, :, 4:8] = 20
    assert structure_index_map(fine, legend, NAMES)[0, 0, 0] == -1
    study = Volume(np.zeros((12, 8, 8), dtype=np.int16), spacing=(2.0, 2.0, 2.0))
    prepared = prepare_volume(study, (2.0, 2.0, 2.0), (8, 8, 8))
    assert prepared.crop_offsets[0] == 2
    frac = study_patch_fractions(study.with_array(fine), prepared, GRID, legend, NAMES)
    lower = [p for p in range(8) if GRID.patch_coords(p)[0] == 0]
    upper_right = [p for p in range(8) if tuple(GRID.patch_coords(p)[[0, 2]]) == (1, 1)]
    assert (frac[lower, LUNG] == 1).all() and (frac[upper_right, BONE] == 1).all()
    assert frac[:, LUNG].sum() == 4 and frac[:, BONE].sum() == 2
