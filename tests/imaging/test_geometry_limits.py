"""Absurd geometry is refused before resampling allocates anything (issue "hardening")."""

import numpy as np
import pytest

from ctrg_desktop.imaging import prepare_volume, resample_to_spacing
from ctrg_desktop.imaging.resample import MAX_EXTENT_MM, check_geometry
from ctrg_desktop.io.volume import Volume


@pytest.mark.parametrize("spacing", [(1000.0, 100.0, 100.0), (100.0, 30.0, 30.0)])
def test_huge_voxel_spacing_is_refused(spacing):
    tiny = Volume(np.zeros((32, 64, 64), np.int16), spacing)  # was 4.8 GB / a traceback in resampling
    with pytest.raises(ValueError, match=r"the study spans .* mm \(32 x 64 x 64 voxels of .*\), more than "
                                         r"the 2 m a CT can cover: its voxel spacing is implausible"):
        prepare_volume(tiny, (3.0, 2.5, 2.5), (16, 32, 32))


def test_resampled_grid_over_the_voxel_limit_is_refused():
    study = Volume(np.zeros((4, 4, 4), np.int16), (100.0, 100.0, 100.0))
    with pytest.raises(ValueError, match=r"would make 4000 x 4000 x 4000 voxels, over the 1,073,741,824"):
        resample_to_spacing(study, (0.1, 0.1, 0.1))


def test_a_whole_body_ct_passes():
    assert check_geometry((1900, 512, 512), (1.0, 0.98, 0.98), (3.0, 2.5, 2.5)) == (633, 201, 201)
    assert MAX_EXTENT_MM == 2000.0
