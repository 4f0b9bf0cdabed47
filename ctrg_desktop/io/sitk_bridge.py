"""Conversion between :class:`Volume` and SimpleITK images (ITK's own order is x, y, z)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ctrg_desktop.io.volume import SeriesInfo, StudyMeta, Volume


def to_canonical(image: sitk.Image) -> sitk.Image:
    """Reorient (flip/permute only, no resampling) so the axes point L, P, S."""
    code = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection())
    return image if code == "LPS" else sitk.DICOMOrient(image, "LPS")


def image_to_volume(image: sitk.Image, series: SeriesInfo | None = None,
                    meta: StudyMeta | None = None, canonical: bool = True) -> Volume:
    """A Volume from a 3D scalar SimpleITK image holding HU values."""
    if image.GetDimension() != 3:
        raise ValueError(f"expected a 3D image, got {image.GetDimension()}D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError("expected a single-channel (grey-scale) image")
    if canonical:
        image = to_canonical(image)
    array = sitk.GetArrayViewFromImage(image)
    if array.dtype == np.int16:
        array = np.array(array, copy=True)
    elif np.issubdtype(array.dtype, np.integer) and array.min() >= -32768 and array.max() <= 32767:
        array = array.astype(np.int16)
    else:
        array = array.astype(np.float32)
    itk_dir = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    return Volume(
        array=array,
        spacing=tuple(image.GetSpacing())[::-1],
        origin=tuple(image.GetOrigin()),
        direction=itk_dir[:, ::-1],
        series=series or SeriesInfo(),
        meta=meta or StudyMeta(),
    )


def volume_to_image(volume: Volume, array: np.ndarray | None = None) -> sitk.Image:
    """A SimpleITK image with the volume's geometry (``array`` replaces the pixels, same shape)."""
    data = volume.array if array is None else array
    if data.shape != volume.shape:
        raise ValueError(f"array shape {data.shape} differs from the volume's {volume.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(data))
    image.SetSpacing(tuple(float(s) for s in volume.spacing[::-1]))
    image.SetOrigin(tuple(float(o) for o in volume.origin))
    image.SetDirection(tuple(float(v) for v in volume.direction[:, ::-1].ravel()))
    return image


def write_volume(volume: Volume, path, array: np.ndarray | None = None) -> None:
    """Write a volume (or a label map on its grid) as .nii/.nii.gz/.nrrd/.mha/.mhd; no PHI is written."""
    sitk.WriteImage(volume_to_image(volume, array), str(path), useCompression=True)
