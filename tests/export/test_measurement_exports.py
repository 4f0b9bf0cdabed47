"""Measurements in the exports: DICOM SR measurement groups (numbers with UCUM units, the region on
the right source pixels), text and JSON."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest

from ctrg_desktop.export import plain_text, report_json, write_dicom_sr
from ctrg_desktop.measurements import make_measurement

UNITS = {"mm": "mm", "mm2": "mm2", "HU": "[hnsf'U]"}


@pytest.fixture
def measured(content, dicom_study):
    """``content`` with a line and an ellipse on axial slice 3 and a line on a coronal slice."""
    volume = dicom_study[0]
    world = lambda *kji: volume.voxel_to_world(np.array(kji, float))  # noqa: E731
    line = make_measurement(volume, "line", "axial", 3, world((3, 2, 2), (3, 20, 14)), "M1")
    ellipse = make_measurement(volume, "ellipse", "axial", 3, world((3, 6, 4), (3, 12, 12)), "cyst")
    coronal = make_measurement(volume, "line", "coronal", 10, world((1, 10, 3), (6, 10, 3)), "M3")
    content.measurements = [line, ellipse, coronal]
    return content


def _groups(ds) -> list:
    container = next(i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010")
    assert container.ValueType == "CONTAINER" and container.RelationshipType == "CONTAINS"
    return list(container.ContentSequence)


def _items(group) -> dict:
    out = {}
    for item in group.ContentSequence:
        out.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, item)
    return out


def test_sr_measurement_groups(tmp_path, measured, dicom_study):
    volume, _, paths = dicom_study
    ds = pydicom.dcmread(write_dicom_sr(measured, tmp_path / "sr.dcm").path)
    groups = _groups(ds)
    assert [g.ConceptNameCodeSequence[0].CodeValue for g in groups] == ["125007"] * 3
    line, ellipse, coronal = (_items(g) for g in groups)
    assert [g["Tracking Identifier"].TextValue for g in (line, ellipse, coronal)] == ["M1", "cyst", "M3"]
    assert line["Comment"].TextValue == "Length on axial slice 4"
    length = line["Length"]
    assert length.ValueType == "NUM" and length.ConceptNameCodeSequence[0].CodeValue == "410668003"
    value = length.MeasuredValueSequence[0]
    assert float(value.NumericValue) == pytest.approx(measured.measurements[0].values["length_mm"], abs=1e-3)
    assert float(value.NumericValue) == pytest.approx(math.hypot(18 * 0.8, 12 * 0.7), abs=1e-3)
    assert value.MeasurementUnitsCodeSequence[0].CodeValue == "mm"
    expected = {"Mean": "HU", "Standard Deviation": "HU", "Minimum": "HU", "Maximum": "HU", "Area": "mm2"}
    for name, unit in expected.items():
        item = ellipse[name].MeasuredValueSequence[0]
        assert item.MeasurementUnitsCodeSequence[0].CodeValue == UNITS[unit]
        assert item.MeasurementUnitsCodeSequence[0].CodingSchemeDesignator == "UCUM"
    values = measured.measurements[1].values
    assert float(ellipse["Mean"].MeasuredValueSequence[0].NumericValue) == pytest.approx(values["mean"], abs=1e-3)
    assert float(ellipse["Area"].MeasuredValueSequence[0].NumericValue) == pytest.approx(math.pi * 3 * 0.8 * 4 * 0.7,
                                                                                         abs=1e-3)
    # the line's ends on the axial source image: the pixels there hold the voxels' own values
    region = line["Image Region"]
    assert region.ValueType == "SCOORD" and region.GraphicType == "POLYLINE"
    image = region.ContentSequence[0]
    assert image.RelationshipType == "SELECTED FROM"
    uid = image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    source = next(pydicom.dcmread(p) for p in paths
                  if pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID == uid)
    hu = source.pixel_array * float(source.RescaleSlope) + float(source.RescaleIntercept)
    xy = np.asarray(region.GraphicData, float).reshape(-1, 2) - 0.5  # (column, row) of pixel centres
    for (x, y), kji in zip(xy, ((3, 2, 2), (3, 20, 14))):
        assert hu[int(round(y)), int(round(x))] == volume.array[kji]
    assert _items(groups[1])["Image Region"].GraphicType == "ELLIPSE"
    assert "Image Region" not in coronal  # no axial source image holds a coronal line
    assert float(coronal["Length"].MeasuredValueSequence[0].NumericValue) == pytest.approx(5 * 3.0, abs=1e-3)


def test_sr_leaves_out_statistics_of_an_empty_ellipse(tmp_path, measured):
    measured.measurements[1].values.update(mean=None, sd=None, minimum=None, maximum=None, voxels=0)
    ds = pydicom.dcmread(write_dicom_sr(measured, tmp_path / "sr.dcm").path)
    assert {k for k in _items(_groups(ds)[1]) if k in ("Mean", "Area")} == {"Area"}


def test_text_and_json_list_the_measurements(measured):
    text = plain_text(measured)
    assert "\nMEASUREMENTS\n\nM1 (Length, axial 4): " in text
    assert "cyst (Ellipse ROI, axial 4): mean " in text and text.count("mm\u00b2") == 1
    data = report_json(measured)
    assert [m["label"] for m in data["measurements"]] == ["M1", "cyst", "M3"]
    assert data["measurements"][0]["values"]["length_mm"] == measured.measurements[0].values["length_mm"]


def test_no_measurements_no_section(content):
    assert "MEASUREMENTS" not in plain_text(content) and report_json(content)["measurements"] == []
