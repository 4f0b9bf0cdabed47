"""The real window under X: the Series table lists a DICOM folder's series from the headers and
opens the one chosen; the Study tab is a form; the Masks dock shows volumes in mL."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from PySide6 import QtCore  # noqa: E402

from ctrg_desktop.app.panels.series_browser import COLUMNS  # noqa: E402

pytestmark = pytest.mark.gui

SHAPES = {"thin": (20, 48, 40), "thick": (12, 32, 36)}
SPACINGS = {"thin": (2.5, 0.8, 0.7), "thick": (5.0, 1.0, 1.0)}


@pytest.fixture(scope="module")
def two_series(tmp_path_factory):
    """A study folder with two CT series (with patient identifiers and a study description)."""
    import pydicom

    from ctrg_desktop.io.dicom_write import write_dicom_series
    from ctrg_desktop.io.volume import StudyMeta, Volume

    root = tmp_path_factory.mktemp("two-series")
    meta = StudyMeta(patient_name="Test^Patient", patient_id="PID-42", study_date="20230514",
                     study_time="101500")
    paths = []
    for number, name in enumerate(SHAPES, start=2):
        k, j, i = np.indices(SHAPES[name])
        array = np.where(((j - j.mean()) / j.max()) ** 2 + ((i - i.mean()) / i.max()) ** 2 < 0.2,
                         40, -1000).astype(np.int16) + (k % 5).astype(np.int16)
        volume = Volume(array, SPACINGS[name], origin=(-20.0, -30.0, 100.0), meta=meta)
        paths += write_dicom_series(volume, root / "study" / name, description=f"chest {name}",
                                    series_number=number, study_uid="1.2.826.0.1.3680043.10.99.1")
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.StudyDescription = "CT THORAX"
        ds.save_as(path)
    archive = root / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            zf.write(path, path.relative_to(root / "study"))
    return root / "study", archive, paths


def _listed(browser, rows: int) -> bool:
    return not browser.busy and browser.table.rowCount() == rows and browser.text(0, "Spacing (mm)") != ""


def _double_click(qtbot, table, row: int) -> None:
    item = table.item(row, COLUMNS.index(("Series", "Series description")))
    table.scrollToItem(item)
    centre = table.visualItemRect(item).center()
    qtbot.mouseClick(table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=centre)


def test_series_table_lists_and_opens_the_second_series(window, qtbot, two_series):
    folder, _, paths = two_series
    assert not window.open_study(folder)  # two CT series: the user chooses
    browser = window.series_browser
    assert window.docks["Series"].isVisible()
    qtbot.waitUntil(lambda: _listed(browser, 2), timeout=20_000)
    headers = [browser.table.horizontalHeaderItem(n).text() for n in range(browser.table.columnCount())]
    assert headers == ["#", "Series", "Modality", "Images", "Matrix", "Spacing (mm)", "Thickness (mm)",
                       "Size (MB)", "Patient", "ID", "Date", "Study"]
    rows = [{h: browser.text(r, h) for h in headers} for r in range(2)]
    thin_mb = sum(os.path.getsize(p) for p in paths[:20]) / 1e6
    assert rows[0] == {"#": "2", "Series": "chest thin", "Modality": "CT", "Images": "20", "Matrix": "40 x 48",
                       "Spacing (mm)": "0.7 x 0.8 x 2.5", "Thickness (mm)": "2.5", "Size (MB)": f"{thin_mb:.2f}",
                       "Patient": "Test, Patient", "ID": "PID-42", "Date": "2023-05-14 10:15", "Study": "CT THORAX"}
    assert [rows[1][h] for h in headers[:7]] == ["3", "chest thick", "CT", "12", "36 x 32", "1 x 1 x 5", "5"]
    assert browser.study_label.text() == "Test, Patient (PID-42), 2023-05-14 10:15, CT THORAX"

    with qtbot.waitSignal(window.load_done, timeout=30_000) as done:
        _double_click(qtbot, browser.table, 1)
    assert done.args == [True], window.last_error
    assert window.volume.shape == SHAPES["thick"]
    assert window.volume.spacing == pytest.approx(SPACINGS["thick"])
    assert browser.current_uid == browser.entries[1].series_instance_uid
    assert browser.table.item(1, 0).font().bold() and not browser.table.item(0, 0).font().bold()
    assert browser.table.rowCount() == 2  # the same folder is not listed again

    study = window.info
    assert study.value("Patient", "Name") == "Test, Patient" and study.value("Patient", "ID") == "PID-42"
    assert study.value("Study", "Date") == "2023-05-14 10:15" and study.value("Study", "Description") == "CT THORAX"
    assert study.value("Series", "Description") == "chest thick" and study.value("Series", "Images") == "12"
    assert study.value("Geometry", "Voxels").startswith("36 x 32 x 12")
    assert study.value("Geometry", "Spacing") == "1 x 1 x 5 mm"
    assert study.value("Format", "Format") == "DICOM series"
    qtbot.waitUntil(lambda: study.value("Series", "Number") == "3", timeout=10_000)
    assert study.value("Geometry", "Slice thickness") == "5 mm" and study.value("Source", "Files") == "12"
    assert '"shape": [\n    12,' in study.json_text()
    study.copy_json()
    assert '"orientation": "LPS"' in QtCore.QCoreApplication.instance().clipboard().text()

    browser.table.selectRow(0)  # the Open series button opens the first one
    with qtbot.waitSignal(window.load_done, timeout=30_000) as done:
        qtbot.mouseClick(browser.open_button, QtCore.Qt.MouseButton.LeftButton)
    assert done.args == [True] and window.volume.shape == SHAPES["thin"]
    assert browser.table.item(0, 0).font().bold()
    qtbot.waitUntil(lambda: window.info.value("Series", "Number") == "2", timeout=10_000)

    shots = os.environ.get("CTRG_SHOTS")  # a picture of the Series tab for people to look at
    if shots:
        from ctrg_desktop.app.screenshot import grab_window

        dock = window.docks["Series"]
        dock.raise_()
        window.resizeDocks([dock], [820], QtCore.Qt.Orientation.Horizontal)
        qtbot.wait(300)
        window.render_all()
        dock.grab().save(os.path.join(shots, "series_browser.png"), "PNG")
        grab_window(window, window.views.values()).save(os.path.join(shots, "series_browser_window.png"), "PNG")
        window.docks["Study"].raise_()
        qtbot.wait(200)
        window.docks["Study"].grab().save(os.path.join(shots, "study_tab.png"), "PNG")


def test_opening_from_the_table_keeps_unsaved_masks_when_cancelled(window, qtbot, two_series, monkeypatch):
    folder, _, _ = two_series
    browser = window.series_browser
    window.open_study(folder)
    qtbot.waitUntil(lambda: _listed(browser, 2), timeout=20_000)
    assert window.open_study(folder, browser.entries[0].series_instance_uid)
    drawn = np.zeros(window.volume.shape, bool)
    drawn[5:8, 10:20, 10:20] = True
    window.segmentation.masks.add("unsaved", array=drawn)
    monkeypatch.setenv("CTRG_UNSAVED", "cancel")
    with qtbot.waitSignal(window.load_done, timeout=10_000) as done:
        browser.open_row(1)
    assert done.args == [False] and window.volume.shape == SHAPES["thin"]
    assert "unsaved work was kept" in window.last_error and "unsaved" in window.segmentation.masks


def test_zip_lists_both_series_and_opens_one(window, qtbot, two_series):
    _, archive, _ = two_series
    assert not window.open_study(archive)
    browser = window.series_browser
    qtbot.waitUntil(lambda: _listed(browser, 2), timeout=20_000)
    assert [browser.text(r, "Series") for r in range(2)] == ["chest thin", "chest thick"]
    with qtbot.waitSignal(window.load_done, timeout=30_000) as done:
        browser.open_row(1)
    assert done.args == [True] and window.volume.shape == SHAPES["thick"]
    assert window.info.value("Format", "Format") == "DICOM in a zip archive"


def test_single_nifti_is_one_row_and_masks_show_ml(window, qtbot, simple_study):
    volume, _, path = simple_study
    assert window.open_study(path)
    browser = window.series_browser
    qtbot.waitUntil(lambda: _listed(browser, 1), timeout=20_000)
    assert browser.text(0, "Patient") == "" and browser.text(0, "Images") == "40"
    assert browser.text(0, "Matrix") == "64 x 64" and browser.text(0, "Spacing (mm)") == "3 x 4 x 5"
    assert browser.table.item(0, 0).font().bold()
    assert window.info.value("Format", "Format") == "NIfTI" and window.info.value("Patient", "Name") is None

    seg = window.segmentation
    array = np.zeros(volume.shape, bool)
    array[10:20, 20:30, 20:30] = True  # 1,000 voxels of 5 x 4 x 3 mm = 60 mL
    mask = seg.masks.add("box", array=array)
    panel = seg.panel
    headers = [panel.tree.headerItem().text(n) for n in range(panel.tree.columnCount())]
    assert headers == ["Mask", "Structure", "Voxels", "Volume"]
    assert panel.item_of("box").text(2) == "1,000" and panel.item_of("box").text(3) == "60.0 mL"
    grow = np.zeros(volume.shape, bool)
    grow[20:25, 20:30, 20:30] = True  # 500 more voxels
    seg.masks.set_volume(mask.name, grow, mode="add")
    assert panel.item_of("box").text(3) == "90.0 mL"
    seg.undo()
    assert panel.item_of("box").text(3) == "60.0 mL"
    plane = seg.masks.begin_slice_edit("box", 0, 30)  # a brush stroke on axial slice 30: 100 voxels
    plane[0:10, 0:10] = True
    seg.masks.touched()
    seg.masks.end_slice_edit()
    assert panel.item_of("box").text(2) == "1,100" and panel.item_of("box").text(3) == "66.0 mL"


def test_browser_shows_why_headers_cannot_be_listed_and_ignores_stale_scans(qtbot, tmp_path):
    from ctrg_desktop.app.panels.series_browser import SeriesBrowser
    from ctrg_desktop.errors import StudyReadError

    def scan(path, cancel=None):
        raise StudyReadError(f"{path} is an empty folder")

    browser = SeriesBrowser(scan=scan)
    qtbot.addWidget(browser)
    browser.show_source(tmp_path)
    qtbot.waitUntil(lambda: browser.error is not None, timeout=5_000)
    assert "is an empty folder" in browser.label.text() and browser.table.rowCount() == 0
    assert not browser.open_button.isEnabled()
    browser._on_catalog(browser.worker.token - 1, tmp_path, [], None)  # an older listing: ignored
    assert browser.error is not None
