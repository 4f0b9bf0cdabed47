"""NIfTI / NRRD / MetaImage round trips, and the DICOM reorientation agreeing with SimpleITK's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrg_desktop.io.dicom_series import canonical
from ctrg_desktop.io.readers import list_series, read_study
from ctrg_desktop.io.sitk_bridge import image_to_volume, volume_to_image, write_volume
from ctrg_desktop.io.volume import CANONICAL_DIRECTION, Volume


@pytest.mark.parametrize("name, fmt", [("ct.nii", "nifti"), ("ct.nii.gz", "nifti"), ("ct.nrrd", "nrrd"),
                                       ("ct.mha", "metaimage"), ("ct.mhd", "metaimage")])
def test_round_trip(tmp_path, volume, name, fmt):
    path = tmp_path / name
    write_volume(volume, path)
    read = read_study(path)
    assert read.series.source_format == fmt and read.series.slice_count == 16
    assert read.array.dtype == np.int16 and read.meta.is_empty()
    np.testing.assert_array_equal(read.array, volume.array)
    np.testing.assert_allclose(read.spacing, volume.spacing, atol=1e-5)
    np.testing.assert_allclose(read.origin, volume.origin, atol=1e-4)
    np.testing.assert_allclose(read.direction, volume.direction, atol=1e-6)
    [summary] = list_series(path)
    assert (summary.slice_count, summary.rows, summary.columns, summary.source_format) == (16, 32, 32, fmt)


def test_float_volume_stays_float(tmp_path, volume):
    hu = volume.array.astype(np.float32) / 4
    write_volume(volume, tmp_path / "f.nii.gz", hu)
    read = read_study(tmp_path / "f.nii.gz")
    assert read.array.dtype == np.float32
    np.testing.assert_array_equal(read.array, hu)


def test_non_canonical_file_is_reoriented(tmp_path, make_volume, direction, check_same_world):
    original = make_volume(direction)
    write_volume(original, tmp_path / "o.nrrd")
    read = read_study(tmp_path / "o.nrrd")
    assert read.orientation_code() == "LPS"
    check_same_world(original, read)


def _signed_permutations():
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            yield np.eye(3)[:, list(perm)] * np.array(signs)


@pytest.mark.parametrize("direction", list(_signed_permutations()))
def test_dicom_reorientation_matches_simpleitk(direction):
    shape = (3, 4, 5)
    original = Volume(np.arange(60, dtype=np.int16).reshape(shape), (1.5, 0.7, 0.9), (10, -20, 30), direction)
    ours = canonical(original)
    theirs = image_to_volume(volume_to_image(original))
    np.testing.assert_array_equal(ours.array, theirs.array)
    np.testing.assert_allclose(ours.spacing, theirs.spacing)
    np.testing.assert_allclose(ours.origin, theirs.origin, atol=1e-9)
    np.testing.assert_allclose(ours.direction, theirs.direction, atol=1e-12)
    np.testing.assert_allclose(ours.direction, CANONICAL_DIRECTION, atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spacing=st.tuples(*[st.floats(0.3, 5.0)] * 3),
       origin=st.tuples(*[st.floats(-300.0, 300.0)] * 3),
       permutation=st.permutations([0, 1, 2]),
       signs=st.tuples(*[st.sampled_from([1.0, -1.0])] * 3),
       voxels=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 5)), min_size=1, max_size=8))
def test_nifti_round_trip_keeps_voxel_world_positions(tmp_path, spacing, origin, permutation, signs, voxels):
    direction = np.eye(3)[:, permutation] * np.array(signs)
    original = Volume(np.arange(120, dtype=np.int16).reshape(4, 5, 6), spacing, origin, direction)
    path = tmp_path / "h.nii.gz"
    write_volume(original, path)
    read = read_study(path)
    assert read.orientation_code() == "LPS"
    for kji in voxels:
        world = original.voxel_to_world(kji)
        mapped = read.world_to_voxel(world)
        index = tuple(np.rint(mapped).astype(int))
        np.testing.assert_allclose(mapped, index, atol=1e-3)
        np.testing.assert_allclose(read.voxel_to_world(index), world, atol=1e-3)
        assert read.array[index] == original.array[kji]
