"""Measurements in the real window on the real demo CT (its DICOM series): two lines and an ellipse
drawn with the mouse, labelled and drawn on their slice only, listed in the Measurements dock
(jump, rename, delete), autosaved and restored after a crash, saved with the report and reopened,
and exported in the PDF and the DICOM SR. No model runs: the report is a hand-made draft."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from PySide6 import QtCore, QtWidgets  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("private_folders")]
Qt = QtCore.Qt
LEFT = Qt.MouseButton.LeftButton
SLICE = 10
#: (k, j, i) ends on slice 10 of the demo series (512 x 512 at 0.977 mm): across the body, across the aorta
LINES = (((SLICE, 215, 110), (SLICE, 215, 405)), ((SLICE, 298, 249), (SLICE, 298, 277)))
ELLIPSE = ((SLICE, 235, 135), (SLICE, 285, 205))  # in the liver


def _point(view, kji) -> QtCore.QPoint:
    x, y = view.world_to_display(view.state.volume.voxel_to_world(np.asarray(kji, float)))
    return QtCore.QPoint(int(round(x)), int(round(y)))


def _drag(qtbot, view, a, b) -> None:
    qtbot.mousePress(view, LEFT, pos=_point(view, a))
    qtbot.mouseMove(view, (_point(view, a) + _point(view, b)) / 2)
    qtbot.mouseMove(view, _point(view, b))
    qtbot.mouseRelease(view, LEFT, pos=_point(view, b))


def _draft(volume):
    """A DraftReport of ``volume`` as ``draft_report`` makes it (random attention, two sentences)."""
    from ctrg_desktop.overlays.patch_lookup import geometry_of
    from ctrg_desktop.imaging.patches import PatchGrid
    from ctrg_desktop.imaging.pipeline import prepare_volume
    from ctrg_desktop.imaging.window import PAPER_WINDOW
    from ctrg_desktop.inference import DraftReport, StructureDraft
    from ctrg_desktop.reports.structures import load_structure_set

    shape, patch = (16, 32, 32), (4, 8, 8)
    prepared, grid = prepare_volume(volume, (5.0, 4.0, 4.0), shape, PAPER_WINDOW), PatchGrid(shape, patch)
    preprocessing = {"patch": list(patch), "grid_counts": list(grid.counts), "num_patches": grid.num_patches,
                     "model_grid": geometry_of(prepared.grid)}
    sentences = {"lung": ["No focal lung lesion."], "mediastinum and heart": ["The aorta is of normal calibre."]}
    structures = [StructureDraft(index=i, name=s.name, colour=s.colour, sentences=sentences.get(s.name, []),
                                 text=" ".join(sentences.get(s.name, [])) or f"No finding in {s.name}.",
                                 mentioned=s.name in sentences, top_patches=[])
                  for i, s in enumerate(load_structure_set("chest_ct").structures)]
    return DraftReport(model={"name": "fake", "version": "0"}, study=geometry_of(volume), preprocessing=preprocessing,
                       generation={}, device="cpu", report=" ".join(t for ts in sentences.values() for t in ts),
                       structures=structures, timings={},
                       attention=np.random.default_rng(0).random((len(structures), grid.num_patches), np.float32))


def _shown(window, view: str) -> list[str]:
    """The measurement labels drawn in ``view`` now (their text's first line)."""
    drawn = window.measuring.overlays.views[view]
    return [label.actor.GetInput().split("\n")[0].split("  ")[0] for label in drawn.labels
            if label.actor.GetVisibility()]


def _brute_force_stats(volume, m):
    """The ellipse's statistics the long way: every voxel centre of the slice tested in LPS mm."""
    corners = volume.world_to_voxel(m.points)
    centre, half = corners.mean(axis=0), np.abs(corners[1] - corners[0]) / 2
    j, i = np.mgrid[0:volume.shape[1], 0:volume.shape[2]]
    kji = np.stack([np.full(j.size, m.slice), j.ravel(), i.ravel()], axis=1)
    offset = volume.voxel_to_world(kji) - volume.voxel_to_world(centre)
    a = volume.voxel_to_world(centre + [0, half[1], 0]) - volume.voxel_to_world(centre)
    b = volume.voxel_to_world(centre + [0, 0, half[2]]) - volume.voxel_to_world(centre)
    inside = ((offset @ a) / (a @ a)) ** 2 + ((offset @ b) / (b @ b)) ** 2 <= 1 + 1e-9
    values = volume.array[m.slice].ravel()[inside].astype(float)
    return values, math.pi * np.linalg.norm(a) * np.linalg.norm(b)


def test_measure_scroll_list_restore_save_and_export(window, new_window, demo_study, qtbot, tmp_path, monkeypatch):
    assert window.open_study(demo_study.dicom_dir), window.last_error
    volume, measuring = window.volume, window.measuring
    axial = window.slice_views["axial"]
    window.state.set_cursor((SLICE, 256, 256))
    window.set_preset("abdomen") if "abdomen" in window.state.presets else window.set_preset("mediastinum")

    # --- two lines and an ellipse, dragged with the mouse --------------------------------
    window.state.set_tool("measure")
    for a, b in LINES:
        _drag(qtbot, axial, a, b)
    window.state.set_tool("ellipse")
    _drag(qtbot, axial, *ELLIPSE)
    items = measuring.measurements.items
    assert [(m.label, m.kind, m.view, m.slice) for m in items] == [
        ("M1", "line", "axial", SLICE), ("M2", "line", "axial", SLICE), ("M3", "ellipse", "axial", SLICE)]
    pixel = volume.spacing[2]  # 0.977 mm; a mouse position is rounded to a screen pixel (~1 voxel here)
    assert items[0].values["length_mm"] == pytest.approx(295 * pixel, abs=3 * pixel)
    assert items[1].values["length_mm"] == pytest.approx(28 * pixel, abs=3 * pixel)
    values, area = _brute_force_stats(volume, items[2])
    stats = items[2].values
    assert stats["voxels"] == values.size > 2000
    assert stats["mean"] == pytest.approx(values.mean()) and stats["sd"] == pytest.approx(values.std())
    assert (stats["minimum"], stats["maximum"]) == (values.min(), values.max())
    assert stats["area_mm2"] == pytest.approx(area) and area == pytest.approx(math.pi * 25 * 35 * pixel ** 2, rel=0.1)
    assert 30 < stats["mean"] < 200  # contrast-enhanced liver
    axial.render_now()
    assert _shown(window, "axial") == ["M1", "M2", "M3"] and _shown(window, "coronal") == []
    texts = [label.actor.GetInput() for label in measuring.overlays.views["axial"].labels]
    assert texts[0] == f"M1  {items[0].values['length_mm']:.1f} mm"
    assert texts[2].startswith(f"M3\nmean {stats['mean']:.1f} HU  SD {stats['sd']:.1f}\n")
    shot = window.save_screenshot(tmp_path / "measurements.png", "axial")
    if os.environ.get("CTRG_SHOT_DIR"):  # a screenshot for the docs: the axial view alone, no crosshair
        window.set_layout("single")
        window.set_crosshair_visible(False)
        axial.render_now()
        window.save_screenshot(Path(os.environ["CTRG_SHOT_DIR"]) / "measurements.png", "axial")
        window.set_layout("2x2")
        window.set_crosshair_visible(True)
        axial.render_now()
    pixels = axial.grab_array()
    cyan = (pixels[..., 0] < 120) & (pixels[..., 1] > 200) & (pixels[..., 2] > 200)
    assert shot.is_file() and cyan.sum() > 200  # the lines and the ellipse are on screen

    # --- they stay on their slice while scrolling ----------------------------------------
    for _ in range(3):
        qtbot.keyClick(axial, Qt.Key.Key_Up)
    assert window.state.cursor[0] == SLICE + 3 and _shown(window, "axial") == []
    assert not measuring.overlays.views["axial"].lines.actor.GetVisibility()
    for _ in range(3):
        qtbot.keyClick(axial, Qt.Key.Key_Down)
    assert _shown(window, "axial") == ["M1", "M2", "M3"]

    # --- the dock: rows, jump to a slice, rename, delete ---------------------------------
    measuring.show_dock()
    panel = measuring.panel
    assert [r[:3] for r in panel.rows()] == [("M1", "Length", "Axial 11"), ("M2", "Length", "Axial 11"),
                                            ("M3", "Ellipse ROI", "Axial 11")]
    assert panel.rows()[1][3] == f"{items[1].values['length_mm']:.1f} mm" and panel.rows()[2][3].startswith("mean ")
    window.state.set_cursor((2, 100, 100))
    panel.table.setCurrentCell(1, 0)  # a click on M2's row
    assert window.state.cursor[0] == SLICE and measuring.selected == items[1].id
    assert window.state.cursor[1:] == tuple(int(round(v)) for v in volume.world_to_voxel(items[1].centre)[1:])
    panel.table.item(1, 0).setText("aorta")  # typed into the label cell (F2 / double click)
    qtbot.waitUntil(lambda: items[1].label == "aorta", timeout=2000)
    assert panel.rows()[1][0] == "aorta" and "aorta" in _shown(window, "axial")
    window.state.set_tool("measure")
    coronal = window.slice_views["coronal"]
    _drag(qtbot, coronal, (5, window.state.cursor[1], 200), (15, window.state.cursor[1], 300))
    assert len(measuring.measurements) == 4
    assert panel.rows()[3][:3] == ("M4", "Length", f"Coronal {window.state.cursor[1] + 1}")
    window.activateWindow()  # shortcuts need the active window
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=3000)
    panel.table.setFocus()
    panel.table.setCurrentCell(3, 0)
    qtbot.keyClick(panel.table, Qt.Key.Key_Delete)
    assert [m.label for m in measuring.measurements] == ["M1", "aorta", "M3"] and len(panel.rows()) == 3

    # --- autosaved, then restored in a new window (a crash: this one never saved) ---------
    autosave = window.editing.autosave.measurements
    qtbot.waitUntil(lambda: autosave.path(autosave.key).is_file(), timeout=5000)
    assert window.editing.unsaved().measurements == ("M1", "aorta", "M3")
    monkeypatch.setenv("CTRG_RESTORE", "yes")
    restored = new_window()
    assert restored.open_study(demo_study.dicom_dir), restored.last_error
    again = restored.measuring.measurements.items
    assert [m.to_json() for m in again] == [m.to_json() for m in measuring.measurements]
    assert again and restored.measuring.measurements.is_modified  # unsaved until saved
    restored.state.set_cursor((SLICE, 256, 256))
    restored.slice_views["axial"].render_now()
    assert _shown(restored, "axial") == ["M1", "aorta", "M3"]
    monkeypatch.setenv("CTRG_RESTORE", "no")

    # --- saved with the report, reopened with it -----------------------------------------
    report = tmp_path / "saved" / "report.json"
    draft = _draft(window.volume)
    assert window.drafting.review(draft, tmp_path / "draft.json")
    assert window.editing.document is not None
    saved = window.editing.files.save(report)
    assert saved is not None and saved.measurements == report.with_name("report.measurements.json")
    assert not measuring.measurements.is_modified and not window.editing.unsaved().any
    assert not autosave.path(autosave.key).exists()  # saved: no autosave to offer
    reopened = new_window()
    assert reopened.open_study(demo_study.dicom_dir), reopened.last_error
    assert reopened.drafting.open_draft(report), reopened.last_error
    back = reopened.measuring.measurements
    assert [m.to_json() for m in back] == [m.to_json() for m in measuring.measurements] and not back.is_modified

    # --- exported: PDF and DICOM SR ------------------------------------------------------
    from PySide6.QtPdf import QPdfDocument

    exports = window.editing.exports
    for kind, name in (("pdf", "report.pdf"), ("dicom-sr", "report-sr.dcm")):
        with qtbot.waitSignal(exports.finished, timeout=60_000):
            assert exports.export(kind, tmp_path / name)
        assert exports.last.ok, exports.last.error
    pdf = QPdfDocument()
    pdf.load(str(tmp_path / "report.pdf"))
    words = " ".join(pdf.getAllText(0).text().split())
    assert "Measurements" in words and "Ellipse ROI" in words
    for m in measuring.measurements:
        assert m.label in words and m.summary().split(",")[0] in words
    ds = pydicom.dcmread(tmp_path / "report-sr.dcm")
    container = next(i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010")
    groups = [{item.ConceptNameCodeSequence[0].CodeMeaning: item for item in g.ContentSequence}
              for g in container.ContentSequence]
    assert [g["Tracking Identifier"].TextValue for g in groups] == ["M1", "aorta", "M3"]
    length = groups[1]["Length"].MeasuredValueSequence[0]
    assert float(length.NumericValue) == pytest.approx(items[1].values["length_mm"], abs=1e-3)
    assert length.MeasurementUnitsCodeSequence[0].CodeValue == "mm"
    mean = groups[2]["Mean"].MeasuredValueSequence[0]
    assert float(mean.NumericValue) == pytest.approx(stats["mean"], abs=1e-3)
    assert mean.MeasurementUnitsCodeSequence[0].CodeValue == "[hnsf'U]"
    assert groups[2]["Area"].MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "mm2"
    assert groups[0]["Image Region"].GraphicType == "POLYLINE" and groups[2]["Image Region"].GraphicType == "ELLIPSE"


def test_help_lists_the_measurement_tools(window):
    from ctrg_desktop.app.help_dialog import HelpDialog

    rows = dict(HelpDialog(window.actions_, window).shortcuts())
    assert rows["O"] == "Ellipse tool" and rows["M"] == "Measure tool"
    assert rows["Left drag, Ellipse tool (O)"].startswith("An ellipse ROI: HU mean, SD, min, max and area")


def test_unsaved_measurements_are_saved_before_another_study_opens(window, simple_study, monkeypatch):
    from ctrg_desktop.app.editing.report_files import default_folder

    volume, _, path = simple_study
    assert window.open_study(path), window.last_error
    axial, k = window.slice_views["axial"], window.state.cursor[0]
    world = lambda *kji: volume.voxel_to_world(np.array(kji, float))  # noqa: E731
    line = window.measuring.finish(axial, "line", (world(k, 10, 10), world(k, 10, 50)))
    assert line.values["length_mm"] == pytest.approx(40 * 3.0)  # 40 columns at 3 mm
    assert window.measuring.finish(axial, "line", (world(k, 10, 10), world(k, 10, 10.2))) is None  # under a voxel
    assert "shorter than a voxel" in window.statusBar().currentMessage()
    assert window.editing.unsaved().describe() == "1 measurement (M1) has changes that were not saved."
    monkeypatch.setenv("CTRG_UNSAVED", "save")
    assert window.open_study(path), window.last_error  # asked first: saved, then the study opened again
    saved = default_folder() / "study.measurements.json"
    assert saved.is_file() and len(window.measuring.measurements) == 0
    assert window.measuring.files.open(saved)
    [back] = window.measuring.measurements.items
    assert back.to_json() == line.to_json() and not window.measuring.measurements.is_modified


def _activate(qtbot, window, widget) -> None:
    """Shortcuts need the active window and the focus where the reader has it."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=3000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=3000)


def _key(qtbot, widget, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(widget, key, modifiers)
    QtWidgets.QApplication.processEvents()


def test_edit_by_handles_delete_rename_and_undo_in_one_history(window, simple_study, qtbot):
    """Handles dragged with the mouse (value live), Delete in the view, a rename in the dock: one
    undo step each, undone and redone with Ctrl+Z / Ctrl+Shift+Z in the view and in the dock; a
    mask edit made after them is undone first in the view; the autosave follows."""
    volume, _, path = simple_study
    assert window.open_study(path), window.last_error
    window.set_layout("single")
    axial, measuring = window.slice_views["axial"], window.measuring
    k = window.state.cursor[0]
    window.state.set_tool("measure")
    _drag(qtbot, axial, (k, 20, 10), (k, 20, 40))
    [line] = measuring.measurements.items
    assert line.values["length_mm"] == pytest.approx(30 * 3.0, abs=3.0)
    window.state.set_tool("ellipse")
    _drag(qtbot, axial, (k, 30, 20), (k, 44, 44))
    roi = measuring.measurements.items[1]
    axial.render_now()
    dots = measuring.overlays.views["axial"].dots
    assert len(dots.points) == 3 + 5 and dots.actor.GetVisibility()  # a line's 3 handles, an ellipse's 5

    # --- the line's end handle dragged with the Navigate tool: live value, then one step ----
    window.state.set_tool("navigate")
    cursor = window.state.cursor
    end = volume.world_to_voxel(line.points[1])
    qtbot.mousePress(axial, LEFT, pos=_point(axial, end))
    qtbot.mouseMove(axial, _point(axial, (k, 20, 55)))
    live = measuring.preview
    assert live is not None and live.id == line.id and live.values["length_mm"] > line.values["length_mm"] + 30
    assert _shown(window, "axial").count("M1") == 1  # the edited copy replaces the stored one on screen
    qtbot.mouseRelease(axial, LEFT, pos=_point(axial, (k, 20, 55)))
    edited_line = measuring.measurements.get(line.id)
    assert measuring.preview is None and window.state.cursor == cursor  # no crosshair jump
    assert edited_line.values["length_mm"] == pytest.approx(45 * 3.0, abs=3.0)
    np.testing.assert_allclose(edited_line.points[0], line.points[0])
    assert measuring.history.undo_text == "edit M1 (length)" and len(measuring.history.undo_steps) == 3

    # --- the ellipse's right side dragged: its statistics follow --------------------------
    right = volume.world_to_voxel(roi.points).max(axis=0)[2]
    handle = (k, 37, right)
    qtbot.mousePress(axial, LEFT, pos=_point(axial, handle))
    qtbot.mouseMove(axial, _point(axial, (k, 37, 60)))
    qtbot.mouseRelease(axial, LEFT, pos=_point(axial, (k, 37, 60)))
    wider = measuring.measurements.get(roi.id)
    assert wider.values["area_mm2"] > roi.values["area_mm2"] * 1.4 and wider.values["voxels"] > roi.values["voxels"]
    assert measuring.history.undo_text == "edit M2 (ellipse roi)"

    # --- Delete in the view, Ctrl+Z there brings it back, Ctrl+Shift+Z deletes it again ---
    _activate(qtbot, window, axial)
    measuring.select(line.id, jump=False)
    _key(qtbot, axial, Qt.Key.Key_Delete)
    assert [m.label for m in measuring.measurements] == ["M2"]
    _key(qtbot, axial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [m.label for m in measuring.measurements] == ["M1", "M2"]
    assert measuring.measurements.get(line.id).to_json() == edited_line.to_json()
    _key(qtbot, axial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert [m.label for m in measuring.measurements] == ["M2"]
    _key(qtbot, axial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    # --- a rename in the dock is one step; Ctrl+Z in the dock undoes it -------------------
    measuring.show_dock()
    panel = measuring.panel
    panel.table.item(0, 0).setText("aorta")
    qtbot.waitUntil(lambda: measuring.measurements.get(line.id).label == "aorta", timeout=2000)
    assert measuring.history.undo_text == "rename M1 to aorta" and panel.undo_button.isEnabled()
    _activate(qtbot, window, panel.table)
    _key(qtbot, panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert measuring.measurements.get(line.id).label == "M1"
    panel.redo_button.click()
    assert measuring.measurements.get(line.id).label == "aorta"

    # --- a mask edit after them: Ctrl+Z in the view undoes the mask first, then a measurement
    seg = window.segmentation
    mask = seg.new_mask("test mask")
    plane = np.zeros(volume.shape[1:], bool)
    plane[10:20, 10:20] = True
    seg.masks.set_slice(mask.name, 0, k, plane)
    assert seg.masks.get("test mask").array[k].sum() == 100
    _activate(qtbot, window, axial)
    _key(qtbot, axial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert seg.masks.get("test mask").array[k].sum() == 0 and measuring.measurements.get(line.id).label == "aorta"
    _key(qtbot, axial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # "add mask test mask"
    assert "test mask" not in seg.masks and measuring.measurements.get(line.id).label == "aorta"
    _key(qtbot, axial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # now the measurements: the rename
    assert measuring.measurements.get(line.id).label == "M1"
    _key(qtbot, axial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert measuring.measurements.get(line.id).label == "aorta"

    # --- the autosave follows the edits -------------------------------------------------
    from ctrg_desktop.measurements.files import read_measurements

    autosave = window.editing.autosave.measurements
    qtbot.waitUntil(lambda: autosave.path(autosave.key).is_file(), timeout=5000)
    qtbot.waitUntil(lambda: [m.to_json() for m in read_measurements(autosave.path(autosave.key))]
                    == [m.to_json() for m in measuring.measurements], timeout=5000)
    saved = {m.label: m for m in read_measurements(autosave.path(autosave.key))}
    assert saved["aorta"].values["length_mm"] == pytest.approx(edited_line.values["length_mm"])
    if os.environ.get("CTRG_SHOT_DIR"):
        measuring.select(roi.id, jump=False)
        window.set_crosshair_visible(False)
        axial.render_now()
        window.save_screenshot(Path(os.environ["CTRG_SHOT_DIR"]) / "i13_measurement_edited.png", "axial")
