"""Bad or odd input: each case raises its error class with a message naming the file and problem."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from ctrg_desktop.errors import (InconsistentSeriesError, NotDicomError, StudyReadError,
                                 TruncatedFileError, UnsupportedModalityError)
from ctrg_desktop.io.dicom_pixels import decoder_hint
from ctrg_desktop.io.dicom_write import write_dicom_series
from ctrg_desktop.io.readers import read_study


def edit(path, **changes):
    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.save_as(path)


@pytest.fixture
def series(tmp_path, volume):
    """A 16-slice series in tmp_path/series; returns its file paths in slice order."""
    return write_dicom_series(volume, tmp_path / "series")


@pytest.mark.parametrize("name, content", [
    ("noise.dcm", os.urandom(4000)),
    ("notes.txt", b"patient notes\nnot an image\n" * 20),
    ("empty.dcm", b""),
])
def test_not_dicom_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NotDicomError, match=f"{name} is not a DICOM"):
        read_study(path)


def test_png_names_the_supported_formats(tmp_path):
    path = tmp_path / "photo.png"
    sitk.WriteImage(sitk.Image(8, 8, sitk.sitkUInt8), str(path))
    with pytest.raises(NotDicomError, match=r"photo.png is not a DICOM file.*'\.png' is not a supported format"):
        read_study(path)


def test_non_dicom_files_in_a_folder_are_skipped_and_counted(tmp_path, series, volume):
    (tmp_path / "series" / "thumbs.db").write_bytes(os.urandom(300))
    (tmp_path / "series" / "readme.txt").write_text("hello")
    read = read_study(tmp_path / "series")
    np.testing.assert_array_equal(read.array, volume.array)
    assert any(w.startswith("2 non-DICOM file(s) skipped") for w in read.series.warnings)


def test_folder_without_dicom(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(NotDicomError, match="no DICOM files in this folder"):
        read_study(tmp_path)


def test_empty_folder_and_missing_path(tmp_path):
    with pytest.raises(StudyReadError, match="is an empty folder"):
        read_study(tmp_path)
    with pytest.raises(StudyReadError, match="nowhere.dcm does not exist"):
        read_study(tmp_path / "nowhere.dcm")


def test_truncated_pixel_data(series):
    data = series[7].read_bytes()
    series[7].write_bytes(data[:-100])
    with pytest.raises(TruncatedFileError, match=f"{series[7].name} is truncated: .* 32 x 32 at 16 bits"):
        read_study(series[7].parent)


def test_header_cut_short(series):
    data = series[6].read_bytes()
    series[6].write_bytes(data[:data.index(b"\x20\x00\x32\x00")])  # just before ImagePositionPatient
    with pytest.raises(TruncatedFileError, match=f"{series[6].name} ends inside its header"):
        read_study(series[6].parent)


def test_truncated_compressed_pixel_data(tmp_path, volume):
    paths = write_dicom_series(volume, tmp_path, transfer_syntax="rle")
    paths[3].write_bytes(paths[3].read_bytes()[:-300])
    with pytest.raises(TruncatedFileError, match=f"{paths[3].name} is truncated"):
        read_study(tmp_path)


def test_non_ct_modality(tmp_path, volume):
    write_dicom_series(volume, tmp_path, modality="MR", description="T1")
    with pytest.raises(UnsupportedModalityError, match="series 'T1' is MR, not CT.*allow_non_ct"):
        read_study(tmp_path)
    assert read_study(tmp_path, allow_non_ct=True).series.modality == "MR"


@pytest.mark.parametrize("name, modality", [("reportsi.dcm", "SR"), ("liver_1frame.dcm", "SEG")])
def test_non_image_test_files(name, modality):
    with pytest.raises(UnsupportedModalityError, match=f"{name}.* is {modality}, not CT"):
        read_study(pydicom.data.get_testdata_file(name))


def test_mixed_image_sizes(tmp_path, volume, make_volume):
    paths = write_dicom_series(volume, tmp_path)
    uid = pydicom.dcmread(paths[0]).SeriesInstanceUID
    write_dicom_series(make_volume(shape=(3, 16, 16), origin=(0, 0, 500)), tmp_path, series_uid=uid,
                       name_pattern="small{index}.dcm")
    with pytest.raises(InconsistentSeriesError, match=r"mixes image sizes: 16 slice\(s\) of 32 x 32, "
                                                      r"3 slice\(s\) of 16 x 16"):
        read_study(tmp_path)


def test_mixed_orientations(series):
    edit(series[2], ImageOrientationPatient=[0, 1, 0, 0, 0, -1])
    expected = r"mixes 2 slice orientations: 15 slice\(s\) oriented \[1, 0, 0, 0, 1, 0\], 1 slice\(s\) oriented "
    with pytest.raises(InconsistentSeriesError, match=expected + r"\[0, 1, 0, 0, 0, -1\]"):
        read_study(series[0].parent)


def test_mixed_pixel_spacing(series):
    edit(series[9], PixelSpacing=[0.7, 0.7])
    with pytest.raises(InconsistentSeriesError, match=r"mixes pixel spacings: 15 slice\(s\) at 0.8, 0.6 mm, "
                                                      r"1 slice\(s\) at 0.7, 0.7 mm"):
        read_study(series[0].parent)


def test_exact_duplicates_are_dropped(series, volume):
    copy = series[4].with_name("copy.dcm")
    shutil.copy(series[4], copy)
    edit(copy, SOPInstanceUID=pydicom.uid.generate_uid())
    read = read_study(series[0].parent)
    np.testing.assert_array_equal(read.array, volume.array)
    assert "1 duplicate slice(s) at the same position dropped" in read.series.warnings


def test_duplicates_with_different_pixels(series):
    ds = pydicom.dcmread(series[4])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.PixelData = (ds.pixel_array + 1).astype(np.int16).tobytes()
    ds.save_as(series[4].with_name("other.dcm"))
    with pytest.raises(InconsistentSeriesError, match="same position .* different pixel data"):
        read_study(series[0].parent)


def test_missing_slices_are_interpolated(series, volume):
    series[5].unlink()
    series[6].unlink()
    read = read_study(series[0].parent)
    assert any(w.startswith("2 missing slice(s): resampled linearly to 16 slices") for w in read.series.warnings)
    np.testing.assert_allclose(read.spacing, volume.spacing, atol=1e-6)
    np.testing.assert_array_equal(read.array, volume.array)  # index values are linear along k


def test_uneven_spacing_is_resampled(series, volume):
    for k, path in enumerate(series):
        x, y, z = pydicom.dcmread(path).ImagePositionPatient
        edit(path, ImagePositionPatient=[x, y, float(z) + (0.05 if k % 2 else 0.0)])
    read = read_study(series[0].parent)
    assert any(w.startswith("uneven slice spacing") for w in read.series.warnings)
    assert read.shape == volume.shape
    np.testing.assert_allclose(read.spacing[0], 37.55 / 15, atol=1e-6)


def test_gap_too_large(tmp_path, make_volume):
    paths = write_dicom_series(make_volume(shape=(30, 32, 32)), tmp_path)
    for path in paths[8:20]:
        path.unlink()
    with pytest.raises(InconsistentSeriesError, match=r"gap of 32.5 mm .*\(about 12 slices missing"):
        read_study(tmp_path)


def test_single_slice_file(series):
    expected = "IM00001.dcm is a single DICOM slice; .* at least 3 slices: open the folder"
    with pytest.raises(StudyReadError, match=expected):
        read_study(series[0])
    with pytest.raises(StudyReadError, match="single DICOM slice"):
        read_study(pydicom.data.get_testdata_file("CT_small.dcm"))


def test_two_slices(series):
    for path in series[2:]:
        path.unlink()
    with pytest.raises(StudyReadError, match="needs at least 3 slices"):
        read_study(series[0].parent)


def test_missing_preamble_and_transfer_syntax(series, volume):
    ds = pydicom.dcmread(series[0])
    bare = DicomBytesIO()
    bare.is_little_endian, bare.is_implicit_VR = True, False  # explicit VR, no preamble, no meta
    write_dataset(bare, ds)
    series[0].write_bytes(bare.getvalue())
    ds = pydicom.dcmread(series[1])
    del ds.file_meta.TransferSyntaxUID
    ds.save_as(series[1], enforce_file_format=False)
    assert "TransferSyntaxUID" not in pydicom.dcmread(series[1], force=True).file_meta
    np.testing.assert_array_equal(read_study(series[0].parent).array, volume.array)


def test_empty_sop_class_is_tolerated(series, volume):
    for path in series:
        ds = pydicom.dcmread(path)
        ds.SOPClassUID = ""
        ds.file_meta.MediaStorageSOPClassUID = ""
        ds.save_as(path, enforce_file_format=False)
    np.testing.assert_array_equal(read_study(series[0].parent).array, volume.array)


def test_no_decoder_for_the_transfer_syntax(series):
    for path in series:
        ds = pydicom.dcmread(path)
        ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + os.urandom(64)])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = pydicom.uid.MPEG2MPML
        ds.save_as(path)
    with pytest.raises(StudyReadError, match=r"IM\d+.dcm: no installed decoder handles MPEG2 Main "
                                             r"Profile / Main Level .*; no Python decoder exists"):
        read_study(series[0].parent)


def test_decoder_hints_name_the_package():
    assert "pylibjpeg-libjpeg" in decoder_hint(pydicom.uid.JPEGLSLossless)
    assert "pylibjpeg-openjpeg" in decoder_hint(pydicom.uid.JPEG2000Lossless)
    assert "pylibjpeg-rle" in decoder_hint(pydicom.uid.RLELossless)


def test_damaged_zip_and_image_files(tmp_path):
    for name in ("study.zip", "scan.nii.gz", "scan.mha"):
        (tmp_path / name).write_bytes(os.urandom(500))
    with pytest.raises(StudyReadError, match="study.zip is not a readable zip archive"):
        read_study(tmp_path / "study.zip")
    with pytest.raises(StudyReadError, match=r"scan.nii.gz cannot be read as nifti"):
        read_study(tmp_path / "scan.nii.gz")
    with pytest.raises(StudyReadError, match=r"scan.mha cannot be read as metaimage"):
        read_study(tmp_path / "scan.mha")
