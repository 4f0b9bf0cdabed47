"""Share of the top-K patches inside the body: from a label map, or from HU in the model input."""

import numpy as np
import pytest

from ctrg_desktop.evaluation.grounding import in_body_share
from ctrg_desktop.imaging.coverage import BODY_HU, body_fractions, input_body_mask, label_body_mask
from ctrg_desktop.imaging.patches import PatchGrid
from ctrg_desktop.imaging.window import PAPER_WINDOW

GRID = PatchGrid((4, 8, 8), (4, 4, 4))          # 1 x 2 x 2 = 4 patches of 64 voxels


def _labels():
    labels = np.zeros((4, 8, 8), np.int16)
    labels[:, :4, :4] = 3                        # patch 0 full
    labels[:, :4, 4:6] = 1                       # patch 1 half: not inside ("most" = more than half)
    labels[:, 4:, :4][:, :, :3] = 2              # patch 2: 3/4 inside
    return labels


def test_body_fractions_from_a_label_map():
    fractions = body_fractions(label_body_mask(_labels()), GRID)
    assert fractions.tolist() == [1.0, 0.5, 0.75, 0.0]


def test_body_from_hu_in_the_model_input():
    hu = np.full((4, 8, 8), -1024.0, np.float32)  # the crop/pad fill
    hu[:, :4, :] = -100.0                         # patches 0 and 1
    hu[:, 4:, :4] = -600.0                        # patch 2: lung-like but under the threshold
    body = input_body_mask(PAPER_WINDOW.normalise(hu), PAPER_WINDOW)
    assert body_fractions(body, GRID).tolist() == [1.0, 1.0, 0.0, 0.0]
    just_above = PAPER_WINDOW.normalise(np.full((4, 8, 8), BODY_HU + 1, np.float32))
    assert input_body_mask(just_above, PAPER_WINDOW).all()


def test_in_body_share():
    fractions = np.stack([body_fractions(label_body_mask(_labels()), GRID)] * 2)     # inside: patches 0 and 2
    topk = np.array([[[0, 2], [1, 3]],                                            # structure a: 2/2, b: 0/2
                     [[0, 1], [2, 2]]])                                           # a: 1/2, b: 2/2
    out = in_body_share(topk, fractions, ["a", "b"], ["label_map", "hu"])
    assert out["share"] == pytest.approx(5 / 8)
    assert out["per_structure"] == {"a": 0.75, "b": 0.5}
    assert out["chance"] == 0.5 and out["n_studies"] == 2 and out["k"] == 2
    assert out["methods"] == {"label_map": 1, "hu": 1} and "HU > -500" in out["rule"]
    with pytest.raises(ValueError, match="patch indices"):
        in_body_share(topk + 4, fractions, ["a", "b"])
    with pytest.raises(ValueError, match="need topk"):
        in_body_share(topk, fractions, ["a"])
