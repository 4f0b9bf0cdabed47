"""Write a Volume as DICOM CT: a series of single-slice files, or one multi-frame file.

The volume's own grid is written, without reorientation: slice ``k`` is ``volume.array[k]``
with ImageOrientationPatient = (i axis, j axis) = ``(direction[:, 2], direction[:, 1])``,
ImagePositionPatient = ``origin + k * sk * direction[:, 0]``, PixelSpacing = ``(sj, si)`` and
SliceThickness = ``sk`` (mm). Stored values are ``rint((HU - intercept) / slope)`` as int16
(uint16 with ``unsigned=True``); ``rescale`` is one ``(slope, intercept)`` or one per slice.
Compressed transfer syntaxes (RLE, JPEG 2000 lossless, JPEG-LS lossless) are encoded by
pydicom's ``Dataset.compress`` when an encoder plugin is installed. Identifiers come from
``volume.meta``; new UIDs are generated where none is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_encoder
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (UID, CTImageStorage, EnhancedCTImageStorage, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless, JPEG2000TransferSyntaxes,
                         JPEGLSLossless, MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
                         RLELossless, generate_uid)
from pydicom.valuerep import format_number_as_ds

from ctrg_desktop.errors import StudyWriteError
from ctrg_desktop.io.dicom_scan import PHI_KEYWORDS
from ctrg_desktop.io.volume import Volume

#: Names accepted for ``transfer_syntax`` (a UID string works too).
TRANSFER_SYNTAXES = {"explicit": ExplicitVRLittleEndian, "implicit": ImplicitVRLittleEndian,
                     "big-endian": ExplicitVRBigEndian, "rle": RLELossless,
                     "jpeg2000": JPEG2000Lossless, "jpegls": JPEGLSLossless}

Rescale = tuple[float, float] | Sequence[tuple[float, float]]


def write_dicom_series(volume: Volume, folder: str | Path, *, description: str = "",
                       series_uid: str | None = None, study_uid: str | None = None,
                       series_number: int = 1, modality: str = "CT", rescale: Rescale = (1.0, 0.0),
                       unsigned: bool = False, transfer_syntax: str = "explicit",
                       name_pattern: str = "IM{index:05d}.dcm") -> list[Path]:
    """One file per slice in ``folder`` (created if needed); the written paths in slice order."""
    syntax = _syntax(transfer_syntax, volume.shape)
    pairs = _rescale_pairs(rescale, volume.shape[0])
    stored = _stored(volume, pairs, unsigned)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds = _base(volume, CTImageStorage, modality, description, study_uid, series_uid, series_number, unsigned)
    ds.ImageOrientationPatient = _ds(_orientation(volume))
    ds.PixelSpacing = _ds(volume.spacing[1:])
    ds.SliceThickness = format_number_as_ds(volume.spacing[0])
    step = volume.direction[:, 0] * volume.spacing[0]
    paths = []
    for k in range(volume.shape[0]):
        uid = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = uid
        ds.InstanceNumber = k + 1
        position = np.asarray(volume.origin) + k * step
        ds.ImagePositionPatient = _ds(position)
        ds.SliceLocation = format_number_as_ds(float(position[2]))
        ds.RescaleSlope, ds.RescaleIntercept = _ds(pairs[k])
        _set_pixels(ds, stored[k], syntax)
        path = folder / name_pattern.format(index=k + 1)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_dicom_multiframe(volume: Volume, path: str | Path, *, enhanced: bool = True,
                           description: str = "", series_uid: str | None = None,
                           study_uid: str | None = None, series_number: int = 1,
                           modality: str = "CT", rescale: Rescale = (1.0, 0.0), unsigned: bool = False,
                           transfer_syntax: str = "explicit") -> Path:
    """One multi-frame file: Enhanced CT with functional groups, or (``enhanced=False``) a classic
    multi-frame image with a single position and SpacingBetweenSlices (one rescale only)."""
    syntax = _syntax(transfer_syntax, volume.shape)
    pairs = _rescale_pairs(rescale, volume.shape[0])
    if not enhanced:
        if len(set(pairs)) > 1:
            raise StudyWriteError("a classic multi-frame file holds one rescale slope/intercept only")
        if volume.direction[:, 0] @ np.cross(volume.direction[:, 2], volume.direction[:, 1]) < 0:
            volume = _reverse_slices(volume)  # classic frames step along row x column
    stored = _stored(volume, pairs, unsigned)
    sop_class = EnhancedCTImageStorage if enhanced else MultiFrameGrayscaleWordSecondaryCaptureImageStorage
    ds = _base(volume, sop_class, modality, description, study_uid, series_uid, series_number, unsigned)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.InstanceNumber = 1
    ds.NumberOfFrames = volume.shape[0]
    orientation = _ds(_orientation(volume))
    if enhanced:
        _functional_groups(ds, volume, orientation, pairs)
    else:
        ds.ImagePositionPatient = _ds(volume.origin)
        ds.ImageOrientationPatient = orientation
        ds.PixelSpacing = _ds(volume.spacing[1:])
        ds.SliceThickness = ds.SpacingBetweenSlices = format_number_as_ds(volume.spacing[0])
        ds.RescaleSlope, ds.RescaleIntercept = _ds(pairs[0])
    _set_pixels(ds, stored, syntax)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _syntax(name: str, shape: tuple[int, int, int]) -> UID:
    uid = UID(TRANSFER_SYNTAXES.get(name.lower(), name))
    if not uid.is_transfer_syntax:
        raise StudyWriteError(f"unknown transfer syntax '{name}' (use one of {', '.join(TRANSFER_SYNTAXES)} "
                              "or a transfer syntax UID)")
    if uid.is_compressed:
        try:
            encoder = get_encoder(uid)
        except NotImplementedError:
            raise StudyWriteError(f"pydicom cannot encode {uid.name}") from None
        if not encoder.is_available:
            raise StudyWriteError(f"no encoder for {uid.name} is installed "
                                  f"({'; '.join(encoder.missing_dependencies)})")
    if uid in JPEG2000TransferSyntaxes and min(shape[1:]) < 32:
        raise StudyWriteError(f"the {uid.name} encoder needs slices of at least 32 x 32 pixels")
    return uid


def _rescale_pairs(rescale: Rescale, count: int) -> list[tuple[float, float]]:
    if len(rescale) == 2 and np.isscalar(rescale[0]):
        pairs = [(float(rescale[0]), float(rescale[1]))] * count
    else:
        pairs = [(float(s), float(b)) for s, b in rescale]
    if len(pairs) != count:
        raise StudyWriteError(f"{len(pairs)} rescale pairs given for {count} slices")
    if any(s == 0 for s, _ in pairs):
        raise StudyWriteError("a rescale slope of 0 cannot be written")
    return pairs


def _stored(volume: Volume, pairs: list[tuple[float, float]], unsigned: bool) -> np.ndarray:
    """The stored values ``(D, H, W)`` as int16/uint16; StudyWriteError when they do not fit."""
    dtype = np.dtype(np.uint16 if unsigned else np.int16)
    if not unsigned and volume.array.dtype == np.int16 and set(pairs) == {(1.0, 0.0)}:
        return volume.array
    slopes = np.array([s for s, _ in pairs])[:, None, None]
    intercepts = np.array([b for _, b in pairs])[:, None, None]
    if volume.array.dtype == np.int16 and np.all(slopes == 1) and np.all(intercepts == np.rint(intercepts)):
        values = volume.array.astype(np.int32) - intercepts.astype(np.int32)  # exact, and fast
    else:
        values = np.rint((volume.array.astype(np.float64) - intercepts) / slopes)
    info = np.iinfo(dtype)
    if values.min() < info.min or values.max() > info.max:
        raise StudyWriteError(f"HU values {volume.hu_range()} do not fit {dtype} with this rescale")
    return values.astype(dtype)


def _ds(values) -> list[str]:
    """Numbers as DICOM decimal strings (at most 16 characters each)."""
    return [format_number_as_ds(float(v)) for v in values]


def _orientation(volume: Volume) -> np.ndarray:
    return np.concatenate([volume.direction[:, 2], volume.direction[:, 1]])


def _reverse_slices(volume: Volume) -> Volume:
    last = volume.voxel_to_world([volume.shape[0] - 1, 0, 0])
    direction = volume.direction.copy()
    direction[:, 0] *= -1
    return volume.with_array(volume.array[::-1], origin=tuple(last), direction=direction)


def _base(volume: Volume, sop_class: UID, modality: str, description: str, study_uid: str | None,
          series_uid: str | None, series_number: int, unsigned: bool) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Modality = modality
    meta = volume.meta
    for name, keyword in PHI_KEYWORDS.items():
        if getattr(meta, name) and keyword not in ("StudyInstanceUID", "SeriesInstanceUID"):
            setattr(ds, keyword, getattr(meta, name))
    ds.StudyInstanceUID = study_uid or meta.study_instance_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.Rows, ds.Columns = volume.shape[1:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0 if unsigned else 1
    ds.RescaleType = "HU"
    return ds


def _functional_groups(ds: Dataset, volume: Volume, orientation: list[str],
                       pairs: list[tuple[float, float]]) -> None:
    def item(**elements) -> Dataset:
        out = Dataset()
        for keyword, value in elements.items():
            setattr(out, keyword, value)
        return out

    def rescale(pair) -> DicomSequence:
        slope, intercept = _ds(pair)
        return DicomSequence([item(RescaleSlope=slope, RescaleIntercept=intercept, RescaleType="HU")])

    shared = item(PixelMeasuresSequence=DicomSequence([item(PixelSpacing=_ds(volume.spacing[1:]),
                                                            SliceThickness=format_number_as_ds(volume.spacing[0]))]),
                  PlaneOrientationSequence=DicomSequence([item(ImageOrientationPatient=orientation)]))
    per_frame_rescale = len(set(pairs)) > 1
    if not per_frame_rescale:
        shared.PixelValueTransformationSequence = rescale(pairs[0])
    step = volume.direction[:, 0] * volume.spacing[0]
    frames = []
    for k in range(volume.shape[0]):
        frame = item(PlanePositionSequence=DicomSequence(
                         [item(ImagePositionPatient=_ds(np.asarray(volume.origin) + k * step))]),
                     FrameContentSequence=DicomSequence([item(InStackPositionNumber=k + 1)]))
        if per_frame_rescale:
            frame.PixelValueTransformationSequence = rescale(pairs[k])
        frames.append(frame)
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)


def _set_pixels(ds: Dataset, stored: np.ndarray, syntax: UID) -> None:
    """Put ``stored`` (one frame or ``(frames, rows, cols)``) into ``ds`` in ``syntax``."""
    if syntax.is_compressed:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(syntax, np.ascontiguousarray(stored), generate_instance_uid=False)
        return
    ds.file_meta.TransferSyntaxUID = syntax
    data = stored.astype(stored.dtype.newbyteorder(">")) if syntax == ExplicitVRBigEndian else stored
    ds.PixelData = data.tobytes()
    ds["PixelData"].VR = "OW"
