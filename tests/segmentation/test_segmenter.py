"""The real LiteMedSAM on CT slices: box and point prompts, the embedding cache, pixel orientation.

Dice values are measured against the synthetic phantom's label map (the fixture ``phantom_study``:
48 x 64 x 64 voxels, seed 7) and printed (``pytest -s``).
"""

import threading

import numpy as np
import pytest

from ctrg_desktop.data.phantoms import Tissue
from ctrg_desktop.segmentation import (
           LUNG_WINDOW,
           SOFT_TISSUE_WINDOW,
           SegmentationError,
           SliceKey,
           interior_point,
           mask_box,
           prompts_from_patches,
)

STUDY = "phantom-7"


def dice(a, b) -> float:
    return 2.0 * float((a & b).sum()) / max(1.0, float(a.sum() + b.sum()))


def largest_slice(label_map, tissue) -> int:
    return int(np.argmax((label_map == tissue).sum(axis=(1, 2))))


@pytest.fixture(scope="module")
def heart(phantom_study, lite_segmenter):
    """(slice index, HU slice, truth mask, cached embedding key) of the phantom's largest heart section."""
    k = largest_slice(phantom_study.label_map, Tissue.HEART)
    image = phantom_study.volume.array[k]
    lite_segmenter.embed(image, SOFT_TISSUE_WINDOW, key=(STUDY, 0, k))
    return k, image, phantom_study.label_map[k] == Tissue.HEART, lite_segmenter.slice_key(STUDY, 0, k)


def test_box_prompt_on_phantom_heart_and_lung_matches_the_label_map(phantom_study, lite_segmenter, heart):
    k, _, truth, key = heart
    mask = lite_segmenter.predict(key, box=mask_box(truth))
    assert mask.shape == truth.shape and mask.dtype == bool
    heart_dice = dice(mask, truth)
    kl = largest_slice(phantom_study.label_map, Tissue.LUNG_RIGHT)
    lung = phantom_study.label_map[kl] == Tissue.LUNG_RIGHT
    emb = lite_segmenter.embed(phantom_study.volume.array[kl], LUNG_WINDOW, key=(STUDY, 0, kl))
    lung_dice = dice(lite_segmenter.predict(emb, box=mask_box(lung)), lung)
    print(f"\nbox prompt Dice: heart (slice {k}, soft-tissue window) {heart_dice:.3f}; "
          f"right lung (slice {kl}, lung window) {lung_dice:.3f}")
    assert heart_dice > 0.6 and lung_dice > 0.6      # measured 0.81 and 0.87


def test_positive_point_prompt_gives_a_mask_around_the_point(lite_segmenter, heart):
    _, _, truth, key = heart
    x, y = interior_point(truth)
    mask = lite_segmenter.predict(key, points=[(x, y, True)])
    print(f"\npoint prompt Dice (heart): {dice(mask, truth):.3f}")
    assert mask.any() and mask[int(y), int(x)]
    assert dice(mask, truth) > 0.4                      # measured 0.66


def test_top_patches_of_a_structure_prompt_the_segmenter(phantom_study, lite_segmenter, heart):
    """Patch records like a DraftReport's (voxel edges) covering the heart -> prompt -> mask."""
    k, _, truth, key = heart
    x0, y0, x1, y1 = mask_box(truth)
    patches = [{"box_voxels": [[k - 2.5, y0 - 0.5, x0 - 0.5], [k + 1.5, y1 + 0.5, (x0 + x1) / 2]],
                "centre_voxel": [k - 0.5, (y0 + y1) / 2, (3 * x0 + x1) / 4]},
               {"box_voxels": [[k - 0.5, y0 - 0.5, (x0 + x1) / 2], [k + 3.5, y1 + 0.5, x1 + 0.5]],
                "centre_voxel": [k + 1.5, (y0 + y1) / 2, (x0 + 3 * x1) / 4]},
               {"box_voxels": [[k + 5.5, 0, 0], [k + 9.5, 10, 10]], "centre_voxel": [k + 7.5, 5, 5]}]
    prompt = prompts_from_patches(patches, 0, k, phantom_study.volume.shape)
    assert prompt.box == pytest.approx((x0, y0, x1, y1)) and len(prompt.points) == 2
    mask = lite_segmenter.predict(key, box=prompt.box, points=prompt.points)
    assert dice(mask, truth) > 0.6


def test_the_cache_avoids_re_embedding(phantom_study, lite_segmenter, heart):
    k, image, truth, key = heart
    calls = lite_segmenter.encoder_calls
    again = lite_segmenter.embed(image, SOFT_TISSUE_WINDOW, key=(STUDY, 0, k))
    assert again.key == key and lite_segmenter.encoder_calls == calls
    assert lite_segmenter.embed(image, key=key) is again                   # a SliceKey carries its window
    for _ in range(3):
        lite_segmenter.predict(key, box=mask_box(truth))
        lite_segmenter.predict((STUDY, 0, k), box=mask_box(truth))          # default window = soft tissue
    assert lite_segmenter.encoder_calls == calls
    with pytest.raises(SegmentationError, match="has not been embedded"):
        lite_segmenter.predict(SliceKey(STUDY, 0, k, (-600.0, 1500.0)), box=mask_box(truth))
    with pytest.raises(SegmentationError, match="has not been embedded"):
        lite_segmenter.predict((STUDY, 1, k), box=mask_box(truth))
    assert lite_segmenter.encoder_calls == calls

    # a worker thread and the GUI thread asking for the same new slice: one encoder run
    k2 = k + 1
    image2 = phantom_study.volume.array[k2]
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        lite_segmenter.embed(image2, SOFT_TISSUE_WINDOW, key=(STUDY, 0, k2)))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 3 and all(r is results[0] for r in results)
    assert lite_segmenter.encoder_calls == calls + 1
    assert lite_segmenter.predict((STUDY, 0, k2), box=mask_box(truth)).any()


def _two_blobs(shape):
    """A soft-tissue image with two bright discs (HU 200) on a -100 HU background, and their masks."""
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    h, w = shape
    a = (rows - 0.3 * h) ** 2 / (0.12 * h) ** 2 + (cols - 0.2 * w) ** 2 / (0.1 * w) ** 2 <= 1
    b = (rows - 0.65 * h) ** 2 / (0.15 * h) ** 2 + (cols - 0.72 * w) ** 2 / (0.12 * w) ** 2 <= 1
    image = np.where(a | b, 200.0, -100.0) + np.random.default_rng(0).normal(0, 10, shape)
    return image.astype(np.float32), a, b


@pytest.mark.parametrize("shape", [(60, 150), (150, 60)])
def test_masks_come_back_in_the_slices_own_rows_and_columns(lite_segmenter, shape):
    image, a, b = _two_blobs(shape)
    emb = lite_segmenter.embed(image)
    mask_b = lite_segmenter.predict(emb, box=mask_box(b, margin=2))
    print(f"\n{shape}: box on disc b Dice {dice(mask_b, b):.3f}", end="")
    assert dice(mask_b, b) > 0.8 and not (mask_b & a).any()
    xa, ya = interior_point(a)                     # (x, y) = (col, row)
    mask_a = lite_segmenter.predict(emb, points=[(xa, ya, True)])
    print(f", point on disc a Dice {dice(mask_a, a):.3f}")
    assert mask_a[int(ya), int(xa)] and dice(mask_a, a) > 0.6 and not (mask_a & b).any()


def test_box_trained_models_use_points_to_choose_mask_parts():
    from ctrg_desktop.segmentation.segmenter import _components_at_points

    mask = np.zeros((20, 40), dtype=bool)
    mask[2:8, 3:10] = True          # part 1
    mask[10:18, 25:35] = True       # part 2
    part1, part2 = mask.copy(), mask.copy()
    part1[10:] = False
    part2[:10] = False
    assert np.array_equal(_components_at_points(mask, [(30, 12, True)]), part2)          # x = col 30, y = row 12
    assert np.array_equal(_components_at_points(mask, [(5, 5, False)]), part2)
    assert np.array_equal(_components_at_points(mask, [(20, 5, True)]), mask)            # on no part: keep all
    assert np.array_equal(_components_at_points(mask, [(5, 5, True), (30, 12, True)]), mask)
    assert not _components_at_points(mask, [(30, 12, True), (31, 13, False)])[10:].any()


def test_bad_prompts_raise_one_line(lite_segmenter, heart):
    _, _, _, key = heart
    for kwargs, pattern in (({}, "at least one point or a box"),
                            ({"box": (10, 10, 5, 20)}, "x0 <= x1"),
                            ({"box": (100, 100, 120, 120)}, "outside"),
                            ({"box": (1, 2, 3)}, "is \\(x0, y0, x1, y1\\)"),
                            ({"points": [(70, 3, True)]}, "outside the 64x64 slice"),
                            ({"points": [(3, 3)]}, "is \\(x, y, positive\\)")):
        with pytest.raises(SegmentationError, match=pattern):
            lite_segmenter.predict(key, **kwargs)
    with pytest.raises(SegmentationError, match="window"):
        lite_segmenter.embed(np.zeros((8, 8)), (40, 0))
    with pytest.raises(SegmentationError, match="2D"):
        lite_segmenter.embed(np.zeros((8, 8, 3)))
    with pytest.raises(SegmentationError, match="Embedding or a SliceKey"):
        lite_segmenter.predict("slice", box=(1, 1, 5, 5))
