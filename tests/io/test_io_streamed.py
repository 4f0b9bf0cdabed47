"""Slab-streamed .nii reading equals the whole-image path, for every combination of axis flips."""

import itertools

import numpy as np
import pytest
import SimpleITK as sitk

from ctrg_desktop.errors import TruncatedFileError
from ctrg_desktop.io import streamed_read
from ctrg_desktop.io.readers import read_study
from ctrg_desktop.io.sitk_bridge import image_to_volume


def _image(flips, dtype=np.int16):
    rng = np.random.default_rng(3)
    arr = rng.integers(-1024, 2000, (70, 9, 11)).astype(dtype)  # 70 slices: three slabs of 32
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing((0.7, 0.8, 2.5))
    image.SetOrigin((-100.0, 50.0, 300.0))
    image.SetDirection(tuple(np.diag([-1.0 if f else 1.0 for f in flips]).ravel()))
    return image


@pytest.mark.parametrize("flips", list(itertools.product([False, True], repeat=3)))
def test_streamed_equals_whole_read(tmp_path, flips, monkeypatch):
    path = tmp_path / "ct.nii"
    image = _image(flips)
    sitk.WriteImage(image, str(path))
    calls = []
    real = streamed_read.read_streamed
    monkeypatch.setattr("ctrg_desktop.io.readers.read_streamed",
                        lambda *a: calls.append(1) or real(*a))
    streamed = read_study(path)
    whole = image_to_volume(sitk.ReadImage(str(path)))
    assert calls, "the .nii int16 path should stream"
    assert np.array_equal(streamed.array, whole.array)
    assert np.allclose(streamed.origin, whole.origin) and np.allclose(streamed.direction, whole.direction)
    assert np.allclose(streamed.spacing, whole.spacing) and streamed.orientation_code() == "LPS"


def test_float_and_compressed_use_whole_read(tmp_path):
    reader = sitk.ImageFileReader()
    for name, image in (("f.nii", _image((False,) * 3, np.float32)), ("c.nii.gz", _image((True,) * 3))):
        sitk.WriteImage(image, str(tmp_path / name))
        reader.SetFileName(str(tmp_path / name))
        reader.ReadImageInformation()
        assert not streamed_read.can_stream(tmp_path / name, reader)
        assert read_study(tmp_path / name).orientation_code() == "LPS"


def test_truncated_nii_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.nii"
    sitk.WriteImage(_image((False,) * 3), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedFileError, match=r"cut.nii is truncated: its header declares 13860 bytes "
                                                 r"of voxel data, the file holds 6754"):
        read_study(path)
