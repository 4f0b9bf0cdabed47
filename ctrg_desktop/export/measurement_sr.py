"""The reader's measurements in the DICOM SR: numeric content items with UCUM units.

Content (after the Findings of :mod:`ctrg_desktop.export.dicom_sr`)::

    CONTAINS  CONTAINER  Imaging Measurements (DCM 126010)
      CONTAINS  CONTAINER  Measurement Group (DCM 125007)             (one per measurement)
        CONTAINS  TEXT  Tracking Identifier (DCM 112039) = the label ("M1")
        CONTAINS  TEXT  Comment (DCM 121106) = "Length on axial slice 58" / "Ellipse ROI on ..."
        CONTAINS  SCOORD  Image Region (DCM 111030) POLYLINE / ELLIPSE   (when a source image holds it)
          SELECTED FROM  IMAGE  Source Image (DCM 121324) = that image
        CONTAINS  NUM  Length (SCT 410668003) [mm]                    (a line)
        CONTAINS  NUM  Mean, Standard Deviation, Minimum, Maximum [HU: UCUM [hnsf'U]], Area [mm2]   (an ellipse)

Statistics of an ellipse without a voxel centre inside are left out (only its area is written).
"""

from __future__ import annotations

import numpy as np
from highdicom.sr import (CodedConcept, ContainerContentItem, GraphicTypeValues, ImageContentItem, NumContentItem,
                          PixelOriginInterpretationValues, RelationshipTypeValues, ScoordContentItem,
                          TextContentItem)
from pydicom.sr.codedict import codes

from ctrg_desktop.measurements import KINDS, value_rows
from ctrg_desktop.measurements.geometry import ellipse_axes_world

CONTAINS = RelationshipTypeValues.CONTAINS
#: value_rows name -> concept
CONCEPTS = {"length": codes.SCT.Length, "mean": codes.SCT.Mean, "standard deviation": codes.SCT.StandardDeviation,
            "minimum": codes.SCT.Minimum, "maximum": codes.SCT.Maximum, "area": codes.SCT.Area}
#: value_rows unit -> UCUM
UNITS = {"mm": codes.UCUM.Millimeter, "mm2": codes.UCUM.SquareMillimeter, "HU": codes.UCUM.HounsfieldUnit}
SOURCE_IMAGE = CodedConcept("121324", "DCM", "Source Image")


def _code(code) -> CodedConcept:
    return CodedConcept(code.value, code.scheme_designator, code.meaning)


def measurements_container(measurements, grid=None, source=None) -> ContainerContentItem:
    """The Imaging Measurements container (module docstring); ``grid``: the study's geometry (a
    Volume), ``source``: its :class:`~ctrg_desktop.export.dicom_source.SourceSeries` (both needed
    for the image regions)."""
    container = ContainerContentItem(name=_code(codes.DCM.ImagingMeasurements), relationship_type=CONTAINS)
    container.ContentSequence = [measurement_group(m, grid, source) for m in measurements]
    return container


def measurement_group(measurement, grid=None, source=None) -> ContainerContentItem:
    """One Measurement Group: the label, where it was drawn, its region and its numbers."""
    group = ContainerContentItem(name=_code(codes.DCM.MeasurementGroup), relationship_type=CONTAINS)
    where = f"{KINDS[measurement.kind]} on {measurement.view} slice {measurement.slice + 1}"
    items = [TextContentItem(name=_code(codes.DCM.TrackingIdentifier), value=measurement.label[:64],
                             relationship_type=CONTAINS),
             TextContentItem(name=_code(codes.DCM.Comment), value=where, relationship_type=CONTAINS)]
    region = image_region(measurement, grid, source) if grid is not None and source is not None else None
    if region is not None:
        items.append(region)
    for name, value, unit in value_rows(measurement):
        if value is not None:
            items.append(NumContentItem(name=_code(CONCEPTS[name]), value=round(float(value), 4),
                                        unit=_code(UNITS[unit]), relationship_type=CONTAINS))
    group.ContentSequence = items
    return group


def image_region(measurement, grid, source) -> ScoordContentItem | None:
    """The measurement as a 2D SCOORD on the source image whose plane holds it (None when no
    frame does: a coronal or sagittal measurement of an axial series)."""
    if measurement.kind == "line":
        points, kind = np.asarray(measurement.points, float).reshape(2, 3), GraphicTypeValues.POLYLINE
    else:
        points = ellipse_axes_world(grid, measurement.axis, measurement.slice, measurement.points)
        kind = GraphicTypeValues.ELLIPSE
    tolerance = 0.25 * min(grid.spacing)
    for frame in source.frames:
        row_dir, col_dir = np.asarray(frame.orientation[:3], float), np.asarray(frame.orientation[3:], float)
        offsets = points - np.asarray(frame.position, float)
        if np.abs(offsets @ np.cross(row_dir, col_dir)).max() > tolerance:
            continue
        dr, dc = frame.pixel_spacing
        columns, rows = offsets @ row_dir / dc + 0.5, offsets @ col_dir / dr + 0.5  # (0, 0): the first pixel's corner
        ds = frame.header.ds
        origin = PixelOriginInterpretationValues.FRAME if source.multiframe else None
        image = ImageContentItem(name=SOURCE_IMAGE, referenced_sop_class_uid=ds.SOPClassUID,
                                 referenced_sop_instance_uid=ds.SOPInstanceUID,
                                 referenced_frame_numbers=frame.index + 1 if source.multiframe else None,
                                 relationship_type=RelationshipTypeValues.SELECTED_FROM)
        region = ScoordContentItem(name=_code(codes.DCM.ImageRegion), graphic_type=kind,
                                   graphic_data=np.column_stack([columns, rows]).astype(np.float32),
                                   pixel_origin_interpretation=origin,
                                   relationship_type=CONTAINS)
        region.ContentSequence = [image]
        return region
    return None
