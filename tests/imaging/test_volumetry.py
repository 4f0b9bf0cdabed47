"""Mask volumes in millilitres."""

import numpy as np
import pytest

from ctrg_desktop.imaging.volumetry import format_ml, mask_volume_ml, voxel_volume_ml


def test_voxel_volume():
    assert voxel_volume_ml((1.0, 1.0, 1.0)) == pytest.approx(0.001)
    assert voxel_volume_ml((5.0, 4.0, 3.0)) == pytest.approx(0.06)
    for bad in ((1.0, 1.0), (0.0, 1.0, 1.0), (-1.0, 1.0, 1.0), (float("nan"), 1.0, 1.0)):
        with pytest.raises(ValueError):
            voxel_volume_ml(bad)


def test_mask_volume_from_array_or_count():
    mask = np.zeros((10, 20, 20), bool)
    mask[2:6, 5:15, 5:15] = True  # 400 voxels
    assert mask_volume_ml(mask, (2.5, 0.8, 0.6)) == pytest.approx(400 * 1.2 / 1000)
    assert mask_volume_ml(400, (2.5, 0.8, 0.6)) == pytest.approx(0.48)
    assert mask_volume_ml(np.int64(400), (2.5, 0.8, 0.6)) == pytest.approx(0.48)
    labels = mask.astype(np.uint8) * 3
    assert mask_volume_ml(labels, (1, 1, 1)) == pytest.approx(0.4)
    assert mask_volume_ml(np.zeros((3, 3, 3), bool), (1, 1, 1)) == 0
    # a 10 cm cube at 1 mm: one litre
    assert mask_volume_ml(100 ** 3, (1.0, 1.0, 1.0)) == pytest.approx(1000.0)
    with pytest.raises(ValueError):
        mask_volume_ml(-1, (1, 1, 1))


def test_format_ml():
    assert format_ml(0) == "0 mL"
    assert format_ml(0.0123) == "0.012 mL"
    assert format_ml(3.456) == "3.46 mL"
    assert format_ml(125.34) == "125.3 mL"
    assert format_ml(1520.2) == "1,520 mL"
