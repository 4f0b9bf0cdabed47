"""DICOM SEG export: read back with pydicom and highdicom, each mask voxel on the right source
instance and pixel (the study array is reoriented from the stored series on every axis)."""

from __future__ import annotations

import shutil
import zipfile

import highdicom as hd
import numpy as np
import pydicom
import pytest

from ctrg_desktop.export import ExportError, MaskSpec, ReportContent, study_info, write_dicom_seg
from ctrg_desktop.io.dicom_write import write_dicom_multiframe, write_dicom_series
from ctrg_desktop.io.readers import read_study
from tests.export.conftest import index_volume, make_draft


def _source_pixel(paths, world):
    """(SOPInstanceUID, row, column) of the stored image pixel at LPS ``world``, solved from the headers."""
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        position = np.array(ds.ImagePositionPatient, float)
        orientation = np.array(ds.ImageOrientationPatient, float)
        row_dir, col_dir = orientation[:3], orientation[3:]
        offset = np.asarray(world) - position
        if abs(offset @ np.cross(row_dir, col_dir)) < 1e-3:
            dr, dc = (float(v) for v in ds.PixelSpacing)
            return ds.SOPInstanceUID, int(round(offset @ col_dir / dr)), int(round(offset @ row_dir / dc))
    raise AssertionError(f"no source slice at {world}")


def _marked(seg_path):
    """{(source SOPInstanceUID, segment number): (rows, cols) bool} from the SEG file."""
    ds = pydicom.dcmread(seg_path)
    pixels = ds.pixel_array.reshape(int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    out = {}
    for frame, item in zip(pixels, ds.PerFrameFunctionalGroupsSequence):
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        where = item if "SegmentIdentificationSequence" in item else ds.SharedFunctionalGroupsSequence[0]
        segment = int(where.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        out[(uid, segment)] = frame.astype(bool)
    return out


def test_mask_voxels_land_on_their_source_instance_and_pixel(tmp_path, dicom_study):
    study, _, paths = dicom_study
    voxels = [(0, 0, 0), (2, 5, 7), (7, 23, 19)]
    one = np.zeros(study.shape, bool)
    one[2, 5, 7] = True
    many = np.zeros(study.shape, bool)
    for kji in voxels:
        many[kji] = True
    masks = [MaskSpec("nodule", one, "#ff0000", "lung", "LiteMedSAM"), MaskSpec("corners", many, "#00ff00")]
    result = write_dicom_seg(masks, study, tmp_path / "masks.dcm")
    assert result.warnings == []
    marked = _marked(result.path)
    assert len(marked) == 1 + 3  # only frames holding a mask pixel
    for segment, points in ((1, [(2, 5, 7)]), (2, voxels)):
        for kji in points:
            uid, r, c = _source_pixel(paths, study.voxel_to_world(kji))
            frame = marked[(uid, segment)]
            assert frame[r, c] and frame.sum() == 1
    # the source pixels under each segment hold exactly the masked voxels' values (all values differ)
    by_uid = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p).pixel_array for p in paths}
    for segment, mask in ((1, one), (2, many)):
        values = np.concatenate([by_uid[uid][frame] for (uid, s), frame in marked.items() if s == segment])
        assert sorted(values) == sorted(study.array[mask])


def test_read_back_with_highdicom(tmp_path, dicom_study):
    study, _, _ = dicom_study
    lung = np.zeros(study.shape, bool)
    lung[1:4, 3:9, 2:6] = True
    rib = np.zeros(study.shape, bool)
    rib[5, 10, 11] = True
    path = write_dicom_seg([MaskSpec("lung", lung, "#81c784", "lung"), MaskSpec("rib", rib, "#fff176", "bone")],
                           study, tmp_path / "seg.dcm").path
    seg = hd.seg.segread(path)
    assert seg.number_of_segments == 2 and seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == study.meta.study_instance_uid and seg.PatientID == "P123"
    assert {s[1] for s in seg.get_source_image_uids()} == {study.series.series_instance_uid}
    first = seg.get_segment_description(1)
    assert first.segment_label == "lung" and first.segmented_property_type.value == "39607008"
    assert first.algorithm_type.value == "MANUAL"
    assert seg.get_segment_description(2).segmented_property_type.meaning == "Bone"
    volume = seg.get_volume(combine_segments=False)  # highdicom's own geometry reading
    for mask, segment in ((lung, 0), (rib, 1)):
        kji = np.argwhere(mask)
        index = np.rint(volume.map_reference_to_indices(study.voxel_to_world(kji))).astype(int)
        assert volume.array[index[:, 0], index[:, 1], index[:, 2], segment].all()
        assert volume.array[..., segment].sum() == mask.sum()


def test_geometry_found_without_uids_among_several_series(tmp_path):
    """A draft keeps no UIDs: the series the study's grid is made of is found among three."""
    folder = tmp_path / "study"
    write_dicom_series(index_volume(origin=(0.0, 0.0, 0.0)), folder / "a", series_number=1)
    write_dicom_series(index_volume(), folder / "b", series_number=2)
    # a finer reconstruction inside b's volume: on the grid, but its pixels fall between voxels
    write_dicom_series(index_volume(spacing=(3.0, 0.4, 0.35)), folder / "d", series_number=4)
    uids = {pydicom.dcmread(next((folder / n).iterdir())).SeriesInstanceUID: n for n in "abd"}
    wanted = next(uid for uid, n in uids.items() if n == "b")
    study = read_study(folder, series_uid=wanted)
    content = ReportContent.from_draft(make_draft(study))
    mask = np.zeros(study.shape, bool)
    mask[3, 3, 3] = True
    seg = hd.seg.segread(write_dicom_seg([MaskSpec("m", mask)], content, tmp_path / "seg.dcm").path)
    assert {s[1] for s in seg.get_source_image_uids()} == {wanted}
    write_dicom_series(index_volume(), folder / "c", series_number=3)  # a copy of b's grid: ambiguous
    with pytest.raises(ExportError, match="2 DICOM series .* lie on the study's grid"):
        write_dicom_seg([MaskSpec("m", mask)], content, tmp_path / "seg2.dcm")


def test_enhanced_multiframe_and_zip_sources(tmp_path):
    single = write_dicom_multiframe(index_volume(), tmp_path / "enhanced.dcm")
    series = write_dicom_series(index_volume(), tmp_path / "series")
    archive = tmp_path / "series.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in series:
            zf.write(p, f"dicom/{p.name}")
    shutil.rmtree(tmp_path / "series")
    for source in (single, archive):
        study = read_study(source)
        mask = np.zeros(study.shape, bool)
        mask[6, 20, 1] = True
        path = write_dicom_seg([MaskSpec("m", mask)], study, tmp_path / f"{source.stem}.seg.dcm").path
        seg = hd.seg.segread(path)
        volume = seg.get_volume()
        index = np.rint(volume.map_reference_to_indices(study.voxel_to_world([[6, 20, 1]]))).astype(int)[0]
        assert volume.array[tuple(index)] == 1 and volume.array.sum() == 1, source.name
    ds = pydicom.dcmread(tmp_path / "enhanced.seg.dcm")
    frame = ds.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert int(frame.ReferencedFrameNumber) == 8 - 6  # slice k=6 of 8 is stored frame 2 (head first)


def test_resampled_series_is_sampled_at_the_nearest_voxel(tmp_path):
    folder = tmp_path / "uneven"
    paths = write_dicom_series(index_volume(), folder)
    ds = pydicom.dcmread(paths[3])
    ds.ImagePositionPatient[2] = float(ds.ImagePositionPatient[2]) + 0.6  # 20 % of the 3 mm spacing
    ds.save_as(paths[3])
    study = read_study(folder)
    assert any("resampled" in w for w in study.series.warnings)
    mask = np.ones(study.shape, bool)
    result = write_dicom_seg([MaskSpec("all", mask)], study, tmp_path / "seg.dcm")
    assert any("nearest voxel" in w for w in result.warnings)
    assert len(_marked(result.path)) == len(paths)  # every source frame lies in the mask


def test_non_dicom_study_and_empty_masks_are_refused(tmp_path, phantom_nifti, dicom_study):
    study = read_study(phantom_nifti)
    mask = np.zeros(study.shape, bool)
    mask[1, 1, 1] = True
    with pytest.raises(ExportError, match="study read from DICOM; this one is nifti"):
        write_dicom_seg([MaskSpec("m", mask)], study, tmp_path / "seg.dcm")
    with pytest.raises(ExportError, match="every mask is empty"):
        write_dicom_seg([MaskSpec("m", np.zeros(dicom_study[0].shape, bool))], dicom_study[0], tmp_path / "s.dcm")
    moved = study_info(dicom_study[0]) | {"source": str(tmp_path / "gone")}
    with pytest.raises(ExportError, match="no longer at"):
        write_dicom_seg([MaskSpec("m", np.ones(dicom_study[0].shape, bool))], moved, tmp_path / "s.dcm")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_real_demo_series(tmp_path, demo_study):
    """The real 512 x 512 x 20 JPEG 2000 series, stored head first, with empty UIDs."""
    study = read_study(demo_study.dicom_dir)
    bone = study.array > 300
    result = write_dicom_seg([MaskSpec("bone", bone, "#fff176", "bone")], study, tmp_path / "seg.dcm")
    assert any("derived UIDs" in w for w in result.warnings)
    marked = _marked(result.path)
    files = sorted(demo_study.dicom_dir.iterdir())
    k, j, i = np.argwhere(bone)[len(np.argwhere(bone)) // 2]
    uid, r, c = _source_pixel(files, study.voxel_to_world([k, j, i]))
    if not uid:  # the demo files have an empty SOPInstanceUID: the file meta names them
        position = study.voxel_to_world([k, j, i])[2]
        uid = next(pydicom.dcmread(f, stop_before_pixels=True).file_meta.MediaStorageSOPInstanceUID for f in files
                   if abs(float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]) - position) < 1e-3)
    assert marked[(uid, 1)][r, c]
    assert sum(f.sum() for f in marked.values()) == bone.sum()
    assert hd.seg.segread(result.path).number_of_segments == 1
