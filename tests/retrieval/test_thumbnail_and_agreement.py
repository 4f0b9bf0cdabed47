"""Key slices, thumbnails and the label agreement of a neighbour, by hand."""

import numpy as np
import pytest

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.imaging.patches import PatchGrid
from ctrg_desktop.retrieval.similar import label_agreement
from ctrg_desktop.retrieval.thumbnail import key_slice, thumbnail


def test_key_slice_is_the_centre_of_the_top_patch_of_the_most_probable_positive_label():
    grid = PatchGrid((16, 32, 32), (4, 8, 8))  # 4 x 4 x 4 patches; patch index 16 * pk + 4 * pj + pi
    logits = np.full(18, -3.0)
    logits[2], logits[9] = 2.0, 1.0
    best = np.zeros(18, dtype=int)
    best[2], best[9] = 16 * 3 + 5, 16 * 1  # label 2's patch at pk 3 (slices 12..15), label 9's at pk 1 (4..7)
    assert key_slice(logits, None, best, grid) == 13          # (12 + 15) // 2
    positive = np.zeros(18, bool)
    positive[9] = True                                         # only label 9 stated in the report
    assert key_slice(logits, positive, best, grid) == 5       # (4 + 7) // 2
    assert key_slice(np.full(18, -1.0), None, best, grid) == 8  # nothing positive: the middle slice


def test_thumbnail_is_64_square_and_stretched():
    image = np.zeros((128, 96), np.float32)
    image[:, 48:] = 100.0                                      # left half dark, right half bright
    t = thumbnail(image)
    assert t.shape == (64, 64) and t.dtype == np.uint8
    assert t[:, :31].max() == 0 and t[:, 33:].min() == 255
    assert thumbnail(np.ones((10, 10))).max() == 0             # a flat slice stays black
    with pytest.raises(ValueError, match="2D"):
        thumbnail(np.zeros((2, 2, 2)))


def test_label_agreement():
    present = np.zeros(18, bool)
    present[[2, 9]] = True                    # the study: cardiomegaly, lung nodule
    statuses = np.zeros(18, int)
    statuses[2], statuses[12], statuses[9] = 3, 2, 1  # the case: cardiomegaly, possible effusion, nodule negated
    agree, mine, theirs = label_agreement(present, statuses)
    assert agree == [CT_RATE_LABELS[2]] and mine == [CT_RATE_LABELS[9]] and theirs == [CT_RATE_LABELS[12]]
