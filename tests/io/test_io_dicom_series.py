"""DICOM series written by dicom_write, read back by read_study: HU, geometry, orientation, options."""

from __future__ import annotations

import os
import random
import tempfile
import zipfile

import numpy as np
import pydicom
import pytest

from ctrg_desktop.errors import LoadCancelled, MultipleSeriesError, StudyReadError
from ctrg_desktop.io import zip_source
from ctrg_desktop.io.dicom_write import write_dicom_multiframe, write_dicom_series
from ctrg_desktop.io.readers import list_series, read_study
from ctrg_desktop.io.volume import CANONICAL_DIRECTION


def test_round_trip_is_exact(tmp_path, volume):
    write_dicom_series(volume, tmp_path, description="Chest 1mm")
    read = read_study(tmp_path)
    assert read.array.dtype == np.int16
    np.testing.assert_array_equal(read.array, volume.array)
    np.testing.assert_allclose(read.spacing, volume.spacing, atol=1e-6)
    np.testing.assert_allclose(read.origin, volume.origin, atol=1e-6)
    np.testing.assert_allclose(read.direction, CANONICAL_DIRECTION, atol=1e-9)
    assert read.series.source_format == "dicom-series"
    assert read.series.slice_count == 16
    assert read.series.description == "Chest 1mm"
    assert read.series.transfer_syntax == "Explicit VR Little Endian"
    assert read.series.warnings == []
    assert read.meta.patient_name == "Doe^Jane" and read.meta.accession_number == "A1"
    assert read.meta.series_instance_uid == read.series.series_instance_uid != ""


def test_any_stored_orientation_reads_as_canonical_lps(tmp_path, make_volume, direction, check_same_world):
    original = make_volume(direction)
    write_dicom_series(original, tmp_path)
    read = read_study(tmp_path)
    assert read.orientation_code() == "LPS"
    if np.allclose(np.abs(direction), np.round(np.abs(direction))):  # not oblique: exactly canonical
        np.testing.assert_allclose(read.direction, CANONICAL_DIRECTION, atol=1e-9)
    check_same_world(original, read)


def test_voxel_positions_match_the_files_image_position(tmp_path, make_volume):
    original = make_volume(np.array([[0, 0, -1], [0, -1, 0], [1, 0, 0]], float))  # k: I, j: A, i: L
    paths = write_dicom_series(original, tmp_path)
    read = read_study(tmp_path)
    for path in paths[::5]:
        ds = pydicom.dcmread(path)
        ipp = np.array(ds.ImagePositionPatient, float)
        row, col = np.array(ds.ImageOrientationPatient[:3], float), np.array(ds.ImageOrientationPatient[3:], float)
        sj, si = (float(v) for v in ds.PixelSpacing)
        for j, i in [(0, 0), (3, 7), (31, 31)]:
            world = ipp + j * sj * col + i * si * row
            kji = np.rint(read.world_to_voxel(world)).astype(int)
            np.testing.assert_allclose(read.voxel_to_world(kji), world, atol=1e-4)
            assert read.array[tuple(kji)] == ds.pixel_array[j, i]


def test_sorting_uses_positions_not_names_or_instance_numbers(tmp_path, make_volume, check_same_world):
    original = make_volume(np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], float))  # feet-first
    paths = write_dicom_series(original, tmp_path)
    numbers = list(range(1, len(paths) + 1))
    random.Random(4).shuffle(numbers)
    for path, number in zip(paths, numbers):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = number
        ds.save_as(tmp_path / f"{os.urandom(6).hex()}.dcm")
        path.unlink()
    check_same_world(original, read_study(tmp_path))


def test_fractional_rescale_gives_float32(tmp_path, make_volume):
    hu = make_volume().array.astype(np.float32) * 0.5 - 1024
    original = make_volume(array=hu)
    write_dicom_series(original, tmp_path, rescale=(0.5, -1024))
    read = read_study(tmp_path)
    assert read.array.dtype == np.float32
    np.testing.assert_array_equal(read.array, hu)


def test_unsigned_storage_with_intercept_gives_int16(tmp_path, volume):
    write_dicom_series(volume, tmp_path, rescale=(1, -10000), unsigned=True)
    read = read_study(tmp_path)
    assert read.array.dtype == np.int16
    np.testing.assert_array_equal(read.array, volume.array)


@pytest.mark.parametrize("fractional", [False, True])
def test_per_slice_rescale(tmp_path, volume, fractional):
    pairs = [(1.0 + (k % 2) * (0.5 if fractional else 1.0), -1024.0 - 2 * k) for k in range(volume.shape[0])]
    hu = volume.array // 4 * 4  # representable with slopes 1, 1.5 and 2
    original = volume.with_array(hu.astype(np.int16))
    write_dicom_series(original, tmp_path, rescale=pairs)
    read = read_study(tmp_path)
    assert read.array.dtype == (np.float32 if fractional else np.int16)
    np.testing.assert_allclose(read.array, hu, atol=0.5 if fractional else 0)


def test_padding_pixels_become_air(tmp_path, volume):
    hu = volume.array.copy()
    hu[:, :2, :] = -9999
    paths = write_dicom_series(volume.with_array(hu), tmp_path)
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.add_new("PixelPaddingValue", "SS", -9999)
        ds.save_as(path)
    read = read_study(tmp_path)
    assert np.all(read.array[:, :2, :] == min(-1024, int(volume.array[:, 2:, :].min())))
    np.testing.assert_array_equal(read.array[:, 2:, :], volume.array[:, 2:, :])


@pytest.mark.parametrize("syntax", ["implicit", "big-endian", "rle", "jpeg2000"])
def test_transfer_syntaxes_round_trip(tmp_path, make_volume, syntax, check_same_world):
    original = make_volume(np.array([[0, 0, 1], [0, -1, 0], [-1, 0, 0]], float))
    write_dicom_series(original, tmp_path, transfer_syntax=syntax)
    read = read_study(tmp_path)
    check_same_world(original, read)
    assert read.series.transfer_syntax == pydicom.dcmread(next(tmp_path.iterdir())).file_meta.TransferSyntaxUID.name


def test_gdcm_decodes_what_pydicom_cannot(tmp_path, volume):
    """JPEG 2000 Part 2 (no pydicom decoder): GDCM decodes it and its rescale is undone exactly."""
    even = volume.with_array(volume.array // 2 * 2)
    paths = write_dicom_series(even, tmp_path, transfer_syntax="jpeg2000", rescale=(2, -1024))
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEG2000MCLossless
        ds.save_as(path)
    read = read_study(tmp_path)
    np.testing.assert_array_equal(read.array, even.array)


def test_jpeg_ls_test_files_decode(tmp_path):
    """pydicom's JPEG-LS lossless file (MR, 64 x 64) copied into a 3-slice series."""
    lossless = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    reference = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm")).pixel_array
    for k in range(3):
        lossless.SOPInstanceUID = pydicom.uid.generate_uid()
        lossless.ImagePositionPatient = [0, 0, 2.0 * k]
        lossless.save_as(tmp_path / f"{k}.dcm")
    read = read_study(tmp_path, allow_non_ct=True)
    assert read.series.modality == "MR"
    np.testing.assert_array_equal(read.array[1], reference)


def test_two_series_listed_and_chosen_by_uid(tmp_path, volume, make_volume):
    write_dicom_series(volume, tmp_path / "a", description="lung", series_number=2)
    small = make_volume(shape=(5, 32, 32))
    write_dicom_series(small, tmp_path / "b", description="mediastinum", series_number=3)
    summaries = list_series(tmp_path)
    assert [(s.description, s.slice_count, s.series_number, s.rows, s.modality) for s in summaries] == [
        ("lung", 16, 2, 32, "CT"), ("mediastinum", 5, 3, 32, "CT")]
    assert "patient" not in str(summaries[0].to_dict()).lower()
    with pytest.raises(MultipleSeriesError) as error:
        read_study(tmp_path)
    assert "2 series" in str(error.value) and "series_uid" in str(error.value)
    assert [s.series_instance_uid for s in error.value.series] == [s.series_instance_uid for s in summaries]
    read = read_study(tmp_path, series_uid=summaries[1].series_instance_uid)
    np.testing.assert_array_equal(read.array, small.array)
    with pytest.raises(StudyReadError, match="1.2.3.4.5 is not in"):
        read_study(tmp_path, series_uid="1.2.3.4.5")


def test_lone_ct_series_is_chosen_next_to_other_modalities(tmp_path, volume):
    write_dicom_series(volume, tmp_path / "ct")
    write_dicom_series(volume, tmp_path / "mr", modality="MR")
    read = read_study(tmp_path)
    assert read.series.modality == "CT"
    assert any("1 other series ignored" in w for w in read.series.warnings)


def test_zip_is_read_and_its_temporary_folder_removed(tmp_path, volume, check_same_world):
    paths = write_dicom_series(volume, tmp_path / "series")
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in paths:
            zf.write(path, f"export/{path.name}")
        zf.writestr("__MACOSX/export/._IM00001.dcm", b"\x00\x05\x16\x07 resource fork")
        zf.writestr("export/README.txt", "exported by a PACS")
        zf.writestr("DICOMDIR", b"\x00" * 200)
    temp_root, workspace = tempfile.gettempdir(), zip_source.workspace_root()
    before = {p for p in os.listdir(temp_root) if p.startswith("ctrg-zip-")}
    read = read_study(archive)
    assert {p for p in os.listdir(temp_root) if p.startswith("ctrg-zip-")} == before
    assert not list(workspace.glob(f"zip-{os.getpid()}-*"))
    check_same_world(volume, read)
    assert read.series.source_format == "dicom-zip" and read.series.source_path == str(archive)
    assert any("1 non-DICOM file(s) skipped (README.txt)" in w for w in read.series.warnings)
    [summary] = list_series(archive)
    assert summary.slice_count == 16 and summary.files[0].startswith(f"{archive}!export/")


@pytest.mark.parametrize("per_frame_rescale", [False, True])
def test_enhanced_multiframe(tmp_path, make_volume, direction, per_frame_rescale, check_same_world):
    original = make_volume(direction)
    rescale = [(1.0, -float(k)) for k in range(16)] if per_frame_rescale else (1.0, -1024.0)
    path = write_dicom_multiframe(original, tmp_path / "enhanced.dcm", rescale=rescale)
    read = read_study(path)
    assert read.series.source_format == "dicom-multiframe" and read.orientation_code() == "LPS"
    check_same_world(original, read)


def test_classic_multiframe(tmp_path, make_volume, check_same_world):
    original = make_volume(np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], float))
    path = write_dicom_multiframe(original, tmp_path / "mf" / "classic.dcm", enhanced=False)
    read = read_study(path.parent)
    check_same_world(original, read)
    assert any("classic multi-frame" in w for w in read.series.warnings)


def test_gantry_tilt_is_resampled_to_an_orthogonal_grid(tmp_path, volume):
    paths = write_dicom_series(volume, tmp_path)
    for k, path in enumerate(paths):  # shear: each slice one row further posterior
        ds = pydicom.dcmread(path)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + k * volume.spacing[1], z]
        ds.save_as(path)
    read = read_study(tmp_path)
    assert any("gantry tilt" in w for w in read.series.warnings)
    np.testing.assert_allclose(read.direction, CANONICAL_DIRECTION, atol=1e-9)
    for k in (0, 5, 15):  # slice k's row j now lies at row j + k of the grid
        np.testing.assert_array_equal(read.array[k, k:, :], volume.array[k, :32 - k, :])
        assert np.all(read.array[k, :k, :] == min(-1024, int(volume.array.min())))


def test_progress_and_cancel(tmp_path, volume):
    write_dicom_series(volume, tmp_path)
    seen = []
    read_study(tmp_path, progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) > 3
    assert all(isinstance(m, str) and m for _, m in seen)
    calls = []
    with pytest.raises(LoadCancelled):
        read_study(tmp_path, cancel=lambda: calls.append(1) or len(calls) > 5)
