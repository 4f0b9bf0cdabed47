"""The study/series catalog (headers only) and the Study panel's fields, without Qt."""

from __future__ import annotations

import logging
import os
import zipfile

import numpy as np
import pydicom
import pytest

from ctrg_desktop.errors import LoadCancelled, StudyReadError
from ctrg_desktop.io import dicom_pixels, dicom_series
from ctrg_desktop.io.dicom_write import write_dicom_multiframe, write_dicom_series
from ctrg_desktop.io.readers import list_series, read_study
from ctrg_desktop.io.series_catalog import (SeriesEntry, age_text, catalog, date_text, describe_study,
                                            number_text, person_name, time_text)
from ctrg_desktop.io.sitk_bridge import write_volume


def _study(tmp_path, make_volume):
    """Two series of one study: 16 slices at 2.5 mm and 5 slices at 5 mm, with a study description."""
    first = make_volume()
    second = make_volume(shape=(5, 24, 20), spacing=(5.0, 0.7, 0.75))
    paths = write_dicom_series(first, tmp_path / "study" / "a", description="lung 2.5", series_number=2,
                               study_uid="1.2.3.4")
    paths += write_dicom_series(second, tmp_path / "study" / "b", description="mediastinum", series_number=3,
                                study_uid="1.2.3.4")
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.StudyDescription, ds.StudyTime = "CT CHEST", "143015.25"
        ds.save_as(path)
    return tmp_path / "study", first, second, paths


def test_two_series_from_headers_only(tmp_path, make_volume, monkeypatch):
    folder, first, second, paths = _study(tmp_path, make_volume)

    def no_pixels(*args, **kwargs):
        raise AssertionError("the catalog reads no pixel data")
    monkeypatch.setattr(dicom_pixels, "load_frames", no_pixels)
    monkeypatch.setattr(dicom_series, "_load", no_pixels)
    monkeypatch.setattr(pydicom, "dcmread", no_pixels)
    entries = catalog(folder)
    assert [e.description for e in entries] == ["lung 2.5", "mediastinum"]
    a, b = entries
    assert (a.patient_name, a.patient_id, a.study_date) == ("Doe^Jane", "P123", "20240102")
    assert a.patient_text() == "Doe, Jane" and a.date_text() == "2024-01-02 14:30"
    assert a.study_description == b.study_description == "CT CHEST"
    assert (a.modality, a.images, a.summary.series_number) == ("CT", 16, 2)
    assert (b.images, b.summary.series_number, b.matrix_text()) == (5, 3, "20 x 24")
    assert a.pixel_spacing == pytest.approx((0.8, 0.6)) and a.slice_spacing == pytest.approx(2.5)
    assert a.slice_thickness == pytest.approx(2.5)
    assert b.spacing_text() == "0.75 x 0.7 x 5" and b.thickness_text() == "5"
    assert a.size_bytes == sum(os.path.getsize(p) for p in paths[:16])
    assert b.size_bytes == sum(os.path.getsize(p) for p in paths[16:])
    assert float(a.size_text()) == pytest.approx(a.size_bytes / 1e6, abs=0.01)
    assert [e.series_instance_uid for e in entries] == [s.series_instance_uid for s in list_series(folder)]


def test_catalog_of_a_zip_and_of_a_multiframe_file(tmp_path, make_volume):
    folder, _, _, paths = _study(tmp_path, make_volume)
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            zf.write(path, path.relative_to(folder))
    from_zip, from_folder = catalog(archive), catalog(folder)
    assert [e.to_dict() | {"source_format": ""} for e in from_zip] == \
        [e.to_dict() | {"source_format": ""} for e in from_folder]
    assert from_zip[0].summary.source_format == "dicom-zip" and from_zip[0].path == str(archive)
    volume = make_volume(spacing=(3.0, 0.8, 0.6))
    enhanced = write_dicom_multiframe(volume, tmp_path / "enhanced.dcm", description="enh", series_number=7)
    (entry,) = catalog(enhanced)
    assert (entry.images, entry.summary.source_format, entry.description) == (16, "dicom-multiframe", "enh")
    assert entry.slice_spacing == pytest.approx(3.0) and entry.pixel_spacing == pytest.approx((0.8, 0.6))
    assert entry.size_bytes == os.path.getsize(enhanced)


@pytest.mark.parametrize("name", ["ct.nii.gz", "ct.nrrd", "ct.mha"])
def test_single_image_file_is_one_row_with_what_is_known(tmp_path, make_volume, name):
    volume = make_volume(spacing=(2.0, 0.9, 0.7))
    path = tmp_path / name
    write_volume(volume, path)
    (entry,) = catalog(path)
    assert entry.patient_name == entry.patient_id == entry.study_date == ""
    assert (entry.images, entry.matrix_text()) == (16, "32 x 32")
    assert entry.spacing_text() == "0.7 x 0.9 x 2" and entry.slice_thickness is None
    assert entry.size_bytes == os.path.getsize(path)
    assert entry.summary.source_format in ("nifti", "nrrd", "metaimage")


def test_no_phi_in_to_dict_or_logs(tmp_path, make_volume, caplog):
    folder, *_ = _study(tmp_path, make_volume)
    with caplog.at_level(logging.DEBUG):
        entries = catalog(folder)
    assert "Doe" not in caplog.text and "P123" not in caplog.text
    plain = str([e.to_dict() for e in entries])
    assert "Doe" not in plain and "P123" not in plain and "20240102" not in plain
    assert "Doe^Jane" in str(entries[0].to_dict(phi=True))


def test_cancel_and_errors(tmp_path, make_volume):
    folder, *_ = _study(tmp_path, make_volume)
    with pytest.raises(LoadCancelled):
        catalog(folder, cancel=lambda: True)
    with pytest.raises(StudyReadError, match="does not exist"):
        catalog(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StudyReadError, match="empty"):
        catalog(empty)


def test_describe_study_sections(tmp_path, make_volume):
    folder, first, *_ = _study(tmp_path, make_volume)
    entry = catalog(folder)[0]
    volume = read_study(folder, series_uid=entry.series_instance_uid)
    sections = dict(describe_study(volume, entry=entry))
    assert list(sections) == ["Patient", "Study", "Series", "Geometry", "Format", "Source"]
    fields = {title: dict(rows) for title, rows in sections.items()}
    assert fields["Patient"] == {"Name": "Doe, Jane", "ID": "P123"}
    assert fields["Study"]["Date"] == "2024-01-02 14:30" and fields["Study"]["Description"] == "CT CHEST"
    assert fields["Series"]["Description"] == "lung 2.5" and fields["Series"]["Number"] == "2"
    assert fields["Series"]["Images"] == "16" and fields["Series"]["Modality"] == "CT"
    assert fields["Geometry"]["Voxels"].startswith("32 x 32 x 16")
    assert fields["Geometry"]["Spacing"] == "0.6 x 0.8 x 2.5 mm"
    assert fields["Geometry"]["Slice thickness"] == "2.5 mm"
    assert fields["Geometry"]["Orientation"].startswith("LPS")
    assert fields["Format"]["Format"] == "DICOM series"
    assert fields["Source"]["Files"] == "16" and fields["Source"]["Size"].endswith(" MB")
    hu = volume.hu_range()
    assert fields["Geometry"]["HU range"] == f"{hu[0]:g} to {hu[1]:g}"


def test_describe_study_of_a_nifti_without_identifiers(simple_volume_path):
    volume = read_study(simple_volume_path)
    sections = dict(describe_study(volume))
    assert sections["Patient"] == [] and sections["Series"] == [("Modality", "CT"), ("Images", "12")]
    assert dict(sections["Format"])["Format"] == "NIfTI"


@pytest.fixture
def simple_volume_path(tmp_path, make_volume):
    path = tmp_path / "plain.nii.gz"
    write_volume(make_volume(shape=(12, 16, 16), array=np.zeros((12, 16, 16), np.int16)), path)
    return path


def test_text_helpers():
    assert person_name("Doe^Jane") == "Doe, Jane"
    assert person_name("Doe^Jane^Q^Dr^Jr") == "Doe, Dr Jane Q, Jr"
    assert person_name("=Yamada^Tarou") == "Yamada, Tarou" and person_name("") == ""
    assert person_name("Anonymous") == "Anonymous"
    assert date_text("20240102") == "2024-01-02" and date_text("2024") == "2024" and date_text("") == ""
    assert time_text("143015.25") == "14:30" and time_text("0930") == "09:30" and time_text("") == ""
    assert age_text("061Y") == "61 years" and age_text("003M") == "3 months" and age_text("old") == "old"
    assert number_text(0.703125) == "0.703" and number_text(5.0) == "5" and number_text(1.25) == "1.25"


def test_entry_from_a_bare_summary_is_blank_not_wrong(tmp_path, make_volume):
    folder, *_ = _study(tmp_path, make_volume)
    entry = SeriesEntry(list_series(folder)[0])
    assert entry.spacing_text() == entry.thickness_text() == entry.size_text() == entry.patient_text() == ""
    assert entry.matrix_text() == "32 x 32"
