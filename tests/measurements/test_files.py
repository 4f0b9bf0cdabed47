"""The measurement set (labels, renames, saved state) and its file, read back exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ctrg_desktop.measurements import Measurement, MeasurementError, MeasurementSet, value_rows
from ctrg_desktop.measurements.files import (autosave_path, measurements_path_for, pack_measurements, read_header,
                                             read_measurements, write_measurements)

LINE = {"id": "a1", "label": "", "kind": "line", "view": "axial", "slice": 4,
        "points": [[1.0, 2.0, 3.0], [4.0, 6.0, 3.0]], "values": {"length_mm": 5.0}}
ELLIPSE = {"id": "b2", "label": "", "kind": "ellipse", "view": "coronal", "slice": 2,
           "points": [[0.0, 10.0, 0.0], [6.0, 10.0, 4.0]],
           "values": {"mean": 22.0, "sd": 6.356, "minimum": 12.0, "maximum": 32.0, "area_mm2": 18.85, "voxels": 5}}


def _set() -> MeasurementSet:
    ms = MeasurementSet(shape=(10, 20, 30), spacing=(2.0, 0.5, 0.5))
    ms.add(Measurement.from_json(LINE))
    ms.add(Measurement.from_json(ELLIPSE))
    return ms


def test_labels_renames_deletes_and_the_saved_state():
    ms, changes = MeasurementSet(), []
    ms.add_listener(lambda change, m: changes.append((change, m.label if m else None)))
    first, second = ms.add(Measurement.from_json(LINE)), ms.add(Measurement.from_json(ELLIPSE))
    assert (first.label, second.label) == ("M1", "M2") and first.id != second.id
    assert ms.is_modified and ms.mark_clean() and not ms.is_modified
    ms.rename(first.id, "  right   lower lobe nodule ")
    assert first.label == "right lower lobe nodule" and ms.is_modified
    with pytest.raises(MeasurementError):
        ms.rename(first.id, "   ")
    ms.remove(second.id)
    assert ms.next_label() == "M3"  # labels are not reused
    assert [m.label for m in ms] == ["right lower lobe nodule"]
    assert changes == [("added", "M1"), ("added", "M2"), ("renamed", "right lower lobe nodule"), ("removed", "M2")]
    state = ms.state
    ms.replace_all([Measurement.from_json({**LINE, "label": "M7"})], clean=True)
    assert not ms.is_modified and ms.state != state and ms.next_label() == "M8"
    assert not ms.mark_clean(state)  # an old state is not the current one


def test_shown_on_its_slice_or_within_half_a_slice():
    line = Measurement.from_json(LINE)  # axial slice 4
    assert line.shown_on("axial", 4, 2.0) and not line.shown_on("axial", 5, 2.0)
    assert not line.shown_on("coronal", 4, 2.0)
    assert line.shown_on("axial", 5, 2.0, half_thickness_mm=2.5)  # a 5 mm slab around slice 5
    ms = _set()
    assert [m.kind for m in ms.on_slice("coronal", 2, 0.5)] == ["ellipse"]


def test_value_rows_give_each_number_with_its_unit():
    line, ellipse = Measurement.from_json(LINE), Measurement.from_json(ELLIPSE)
    assert value_rows(line) == [("length", 5.0, "mm")]
    assert value_rows(ellipse) == [("mean", 22.0, "HU"), ("standard deviation", 6.356, "HU"),
                                   ("minimum", 12.0, "HU"), ("maximum", 32.0, "HU"), ("area", 18.85, "mm2")]
    empty = Measurement.from_json({**ELLIPSE, "values": {"mean": None, "sd": None, "minimum": None,
                                                         "maximum": None, "area_mm2": 0.5, "voxels": 0}})
    assert value_rows(empty)[0] == ("mean", None, "HU") and "no voxel centre" in empty.summary()
    assert line.summary() == "5.0 mm"
    assert ellipse.summary() == "mean 22.0 HU, SD 6.4, min 12, max 32, area 18.9 mm\u00b2"


def test_file_round_trip(tmp_path):
    ms = _set()
    ms.rename(ms.items[0].id, "Aorta \u00d8")
    path = write_measurements(tmp_path / "s.measurements.json", pack_measurements(ms, extra={"label": "x"}))
    header = read_header(path)
    assert header["format"] == "ctrg-measurements" and header["study"] == {"shape": [10, 20, 30],
                                                                           "spacing": [2.0, 0.5, 0.5]}
    back = read_measurements(path, shape=(10, 20, 30))
    assert [m.to_json() for m in back] == [m.to_json() for m in ms]
    assert back[0].label == "Aorta \u00d8" and back[1].values["voxels"] == 5
    assert isinstance(back[1].values["voxels"], int)
    np.testing.assert_array_equal(back[1].points, [[0, 10, 0], [6, 10, 4]])


def test_bad_files_are_refused(tmp_path):
    path = write_measurements(tmp_path / "m.json", pack_measurements(_set()))
    with pytest.raises(MeasurementError, match=r"belong to a \[10, 20, 30\] study"):
        read_measurements(path, shape=(11, 20, 30))
    data = json.loads(path.read_text())
    data["measurements"][0]["points"] = [[1, 2, 3]]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(MeasurementError, match="malformed"):
        read_measurements(tmp_path / "bad.json")
    data["measurements"][0].update(points=LINE["points"], slice=99)
    (tmp_path / "far.json").write_text(json.dumps(data))
    with pytest.raises(MeasurementError, match="outside the study"):
        read_measurements(tmp_path / "far.json", shape=(10, 20, 30))
    (tmp_path / "torn.json").write_text('{"format": "ctrg-measure')
    with pytest.raises(MeasurementError, match="cannot read"):
        read_measurements(tmp_path / "torn.json")
    (tmp_path / "other.json").write_text('{"format": "ctrg-masks"}')
    with pytest.raises(MeasurementError, match="not a ctrg measurements file"):
        read_measurements(tmp_path / "other.json")
    with pytest.raises(MeasurementError, match="unknown kind"):
        Measurement.from_json({**LINE, "kind": "angle"})


def test_paths():
    from ctrg_desktop.reports.autosave import AutosaveStore

    assert measurements_path_for("/x/report.json").name == "report.measurements.json"
    store = AutosaveStore("/tmp/a")
    assert autosave_path(store, "abc123") == store.path_for("abc123").with_name("abc123.measurements.json")


def test_unsaved_work_names_the_measurements():
    from ctrg_desktop.reports.unsaved import unsaved_work

    ms = _set()
    work = unsaved_work(measurements=ms)
    assert work.any and work.measurements == ("M1", "M2") and not work.report
    assert work.describe() == "2 measurements (M1, M2) have changes that were not saved."
    ms.mark_clean()
    assert not unsaved_work(measurements=ms).any
