"""Frames of a multi-frame DICOM file (enhanced or classic), placed in space for the series pipeline.

* Enhanced files (Enhanced CT, Legacy Converted ...): each frame's ImagePositionPatient,
  ImageOrientationPatient, PixelSpacing and RescaleSlope/Intercept come from its
  PerFrameFunctionalGroupsSequence item (PlanePositionSequence, PlaneOrientationSequence,
  PixelMeasuresSequence, PixelValueTransformationSequence), else from
  SharedFunctionalGroupsSequence, else from the top-level elements.
* Classic multi-frame files carry one ImagePositionPatient. **Assumption:** the frames are
  parallel slices in frame order, starting at ImagePositionPatient and stepping along the
  slice normal (row x column) by GridFrameOffsetVector when present, else by
  SpacingBetweenSlices, else by SliceThickness. The assumption is noted in the warnings.

Sorting, checks, repairs and rescaling are those of :func:`dicom_series.assemble_volume`.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from ctrg_desktop.errors import StudyReadError
from ctrg_desktop.io.dicom_scan import DicomHeader
from ctrg_desktop.io.dicom_series import Frame, floats, numbers, orientation_of, pixel_spacing, rescale_of

_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


def is_multiframe(header: DicomHeader) -> bool:
    """True for files with several frames or functional groups (enhanced, even with one frame)."""
    return header.frames > 1 or any(g in header.ds for g in _GROUPS)


def multiframe_frames(header: DicomHeader, warnings: list[str]) -> list[Frame]:
    """One :class:`Frame` per frame of the file (see module docstring for where values come from)."""
    if any(g in header.ds for g in _GROUPS):
        return _enhanced_frames(header)
    return _classic_frames(header, warnings)


def _first_item(ds: Dataset, keyword: str) -> Dataset | None:
    value = ds.get(keyword)
    return value[0] if value else None


def _enhanced_frames(header: DicomHeader) -> list[Frame]:
    ds, name = header.ds, header.display
    shared = _first_item(ds, "SharedFunctionalGroupsSequence") or Dataset()
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if per_frame and len(per_frame) != header.frames:
        raise StudyReadError(f"{name} describes {len(per_frame)} frames but holds {header.frames}")
    frames = []
    for index in range(header.frames):
        groups = (per_frame[index] if per_frame else Dataset(), shared, ds)
        where = f"{name} (frame {index + 1})"
        frames.append(Frame(
            header, index,
            floats(_group(groups, "PlanePositionSequence"), "ImagePositionPatient", 3, where),
            orientation_of(_group(groups, "PlaneOrientationSequence"), where),
            pixel_spacing(_group(groups, "PixelMeasuresSequence"), where),
            *rescale_of(_group(groups, "PixelValueTransformationSequence"), where)))
    return frames


def _group(groups: tuple[Dataset, Dataset, Dataset], sequence: str) -> Dataset:
    """The functional group item ``sequence`` of the frame, else the shared one, else the data set."""
    frame, shared, ds = groups
    return _first_item(frame, sequence) or _first_item(shared, sequence) or ds


def _classic_frames(header: DicomHeader, warnings: list[str]) -> list[Frame]:
    ds, name = header.ds, header.display
    origin = floats(ds, "ImagePositionPatient", 3, name)
    orientation = orientation_of(ds, name)
    spacing = pixel_spacing(ds, name)
    normal = np.cross(orientation[:3], orientation[3:])
    normal /= np.linalg.norm(normal)
    if "GridFrameOffsetVector" in ds:
        offsets = floats(ds, "GridFrameOffsetVector", header.frames, name)
        source = "GridFrameOffsetVector"
    else:
        step = (numbers(ds, "SpacingBetweenSlices") or numbers(ds, "SliceThickness") or [0.0])[0]
        if step == 0 or not np.isfinite(step):
            raise StudyReadError(f"{name} is a multi-frame file without per-frame positions, "
                                 "SpacingBetweenSlices or SliceThickness: its slice spacing is unknown")
        offsets = step * np.arange(header.frames)
        source = f"{step:g} mm steps"
    warnings.append(f"classic multi-frame file: frames assumed to be parallel slices along the "
                    f"slice normal from ImagePositionPatient ({source})")
    slope, intercept = rescale_of(ds, name)
    return [Frame(header, k, origin + offsets[k] * normal, orientation, spacing, slope, intercept)
            for k in range(header.frames)]
