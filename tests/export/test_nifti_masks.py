"""NIfTI mask exports: the study's geometry, labels in mask order, the sidecar legend."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from ctrg_desktop.export import ExportError, MaskSpec, write_nifti_labelmap, write_nifti_masks
from ctrg_desktop.io.sitk_bridge import image_to_volume


def _masks(shape):
    a = np.zeros(shape, bool)
    a[1, 2:5, 3:6] = True
    b = np.zeros(shape, bool)
    b[6, 20, 1] = True
    b[1, 4, 5] = True  # overlaps a
    return [MaskSpec("right upper lobe nodule", a, "#ff0000", "lung", "LiteMedSAM"),
            MaskSpec("rib / 5", b, "#00ff00", "bone")]


def test_label_map_on_the_study_grid(tmp_path, dicom_study):
    study = dicom_study[0]
    masks = _masks(study.shape)
    result = write_nifti_labelmap(masks, study, tmp_path / "masks.nii.gz")
    assert result.warnings == ["1 voxel(s) lie in more than one mask; the label map keeps the later mask's label"]
    image = sitk.ReadImage(str(result.path))
    read = image_to_volume(image)  # canonical LPS again, as the app reads it
    assert read.shape == study.shape
    np.testing.assert_allclose(read.affine, study.affine, atol=1e-4)
    labels = read.array
    assert labels[1, 2, 3] == 1 and labels[6, 20, 1] == 2 and labels[1, 4, 5] == 2
    assert np.count_nonzero(labels) == masks[0].array.sum() + 1
    # SimpleITK's own index of the voxel's world point holds its label
    world = study.voxel_to_world([6, 20, 1])
    assert image.GetPixel(image.TransformPhysicalPointToIndex(tuple(world))) == 2
    legend = json.loads((tmp_path / "masks.labels.json").read_text())
    assert legend["labels"][0] == {"value": 1, "name": "right upper lobe nodule", "colour": "#ff0000",
                                   "structure": "lung", "algorithm": "LiteMedSAM", "voxels": 9}
    assert result.files == [tmp_path / "masks.nii.gz", tmp_path / "masks.labels.json"]


def test_one_file_per_mask(tmp_path, content):
    masks = _masks(tuple(content.study["shape"]))
    result = write_nifti_masks(masks, content, tmp_path / "masks")
    names = sorted(p.name for p in (tmp_path / "masks").iterdir())
    assert names == ["masks.labels.json", "rib_5.nii.gz", "right_upper_lobe_nodule.nii.gz"]
    rib = image_to_volume(sitk.ReadImage(str(tmp_path / "masks" / "rib_5.nii.gz")))
    np.testing.assert_array_equal(rib.array.astype(bool), masks[1].array)
    assert result.path == tmp_path / "masks" and len(result.files) == 3


@pytest.mark.parametrize("change, message", [
    (lambda m: MaskSpec(m.name, m.array[:-1], m.colour), "has shape"),
    (lambda m: MaskSpec(m.name, m.array.astype(np.uint8) * 3, m.colour), "not binary"),
    (lambda m: MaskSpec(m.name, m.array, "red"), "expected #rrggbb"),
    (lambda m: MaskSpec(" ", m.array, m.colour), "has no name"),
])
def test_bad_masks_are_refused(tmp_path, dicom_study, change, message):
    mask = _masks(dicom_study[0].shape)[0]
    with pytest.raises(ExportError, match=message):
        write_nifti_labelmap([change(mask)], dicom_study[0], tmp_path / "m.nii.gz")
    with pytest.raises(ExportError, match="no masks"):
        write_nifti_labelmap([], dicom_study[0], tmp_path / "m.nii.gz")
    with pytest.raises(ExportError, match=r"\.nii\.gz"):
        write_nifti_labelmap([mask], dicom_study[0], tmp_path / "m.png")
    assert not list(tmp_path.iterdir())
