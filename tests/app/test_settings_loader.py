"""Settings persistence, background loading with progress and cancel, the Help dialog."""

import threading
import time

import numpy as np
import pytest

from ctrg_desktop.app.loader import StudyLoader, array_for_3d, stride_for_3d
from ctrg_desktop.app.settings import Settings
from ctrg_desktop.app.settings import config_dir as settings_folder
from ctrg_desktop.errors import LoadCancelled
from ctrg_desktop.io.volume import Volume


def test_settings_round_trip(config_dir, tmp_path):
    assert settings_folder() == config_dir  # CTRG_CONFIG_DIR, set by the fixture, is honoured
    s = Settings()
    assert s.path.parent == config_dir
    s["preset"] = "lung"
    s.add_recent(tmp_path / "a.nii.gz")
    s.add_recent(tmp_path / "b.nii.gz")
    s.add_recent(tmp_path / "a.nii.gz")
    s.save_window_preset("liver", 60, 160)
    s.save()
    t = Settings()
    assert t["preset"] == "lung" and t["recent"][0].endswith("a.nii.gz") and len(t["recent"]) == 2
    assert t.window_presets()["liver"] == (60.0, 160.0) and t.window_presets()["lung"] == (-600, 1500)
    s.path.write_text("{ damaged")
    assert Settings()["preset"] == "mediastinum"
    with pytest.raises(KeyError):
        s["nope"] = 1


def test_stride_for_3d():
    assert stride_for_3d((600, 512, 512)) == (4, 3, 3)
    small = np.zeros((10, 20, 30), np.int16)
    assert array_for_3d(small)[0] is small
    big, stride = array_for_3d(np.zeros((300, 512, 10), np.int16))
    assert big.shape == (150, 171, 10) and stride == (2, 3, 1)


def _slow_reader(started: threading.Event):
    def read(path, series_uid=None, progress=None, cancel=None):
        started.set()
        for n in range(500):
            if cancel():
                raise LoadCancelled("loading was cancelled")
            progress(n / 500, "reading")
            time.sleep(0.01)
        return Volume(np.zeros((4, 4, 4), np.int16), (1, 1, 1))
    return read


def test_loader_progress_and_cancel(qtbot, tmp_path):
    started = threading.Event()
    loader = StudyLoader(reader=_slow_reader(started))
    fractions = []
    loader.progress.connect(lambda f, m: fractions.append(f))
    with qtbot.waitSignal(loader.finished, timeout=10_000) as blocker:
        loader.load(tmp_path / "x")
        assert started.wait(5)
        qtbot.waitUntil(lambda: len(fractions) > 3)
        loader.cancel()
    result = blocker.args[0]
    assert isinstance(result.error, LoadCancelled) and not result.ok
    assert fractions == sorted(fractions)


@pytest.mark.gui
def test_window_cancel_keeps_previous_study(window, simple_study, qtbot):
    assert window.open_study(simple_study[2])
    started = threading.Event()
    window.loader._reader = _slow_reader(started)
    with qtbot.waitSignal(window.load_done, timeout=10_000) as blocker:
        window.start_loading(simple_study[2])
        assert window.status.cancel_button.isVisible() or not window.isVisible()
        qtbot.waitUntil(started.is_set)
        qtbot.mouseClick(window.status.cancel_button, __import__("PySide6").QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == [False]
    assert window.volume.shape == simple_study[0].shape
    assert "cancel" in window.statusBar().currentMessage().lower()


@pytest.mark.gui
def test_settings_persist_between_windows(window, simple_study, qtbot, config_dir):
    from ctrg_desktop.app.main_window import MainWindow

    assert window.open_study(simple_study[2])
    window.set_preset("bone")
    window.set_layout("1x3")
    window.set_volume_preset("bone")
    window.resize(1000, 700)
    window.close()
    assert (config_dir / "settings.json").is_file()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.state.preset == "bone" and again.layout_widget.layout_name == "1x3"
    assert again.volume_view.preset == "bone"
    assert again.settings["recent"][0].endswith("simple.nii.gz")
    assert again.recent_menu.actions()[0].text().endswith("simple.nii.gz")
    again.close()


@pytest.mark.gui
def test_help_dialog_lists_shortcuts(window):
    window.show_help()
    rows = dict(window.help_dialog.shortcuts())
    assert rows["Ctrl+D"] == "Open demo study"
    assert rows["Page Up / Page Down"].startswith("10 slices")
    assert "1" in rows and rows["1"] == "lung"
    window.help_dialog.close()


@pytest.mark.gui
def test_mouse_buttons_dialog_sets_persists_and_help_follows(window, new_window, simple_study, qtbot):
    """View > Mouse buttons...: left drag pans, right drag zooms, middle does nothing; the views
    use it at once, Help lists it from the same table, the settings file keeps it for the next
    start; Restore defaults brings the usual bindings back."""
    import os
    from pathlib import Path

    from PySide6 import QtCore

    from ctrg_desktop.app.interaction.bindings import DEFAULT_DRAGS
    from ctrg_desktop.app.mouse_settings import open_mouse_settings

    volume, _, path = simple_study
    assert window.open_study(path), window.last_error
    action = next(a for a in window.actions_ if a.text() == "&Mouse buttons...")
    action.trigger()
    dialog = window.mouse_dialog
    assert dialog.isVisible() and [dialog.boxes[k].currentData() for k in ("left", "middle", "right")] == \
        ["none", "pan", "window"]
    dialog.choose("left", "pan")
    dialog.choose("right", "zoom")
    dialog.choose("middle", "none")
    with pytest.raises(ValueError, match="unknown drag action"):
        dialog.choose("left", "rotate")
    if os.environ.get("CTRG_SHOT_DIR"):
        dialog.grab().save(str(Path(os.environ["CTRG_SHOT_DIR"]) / "i13_mouse_settings.png"))
    dialog.accept()
    axial = window.slice_views["axial"]
    for view in window.slice_views.values():
        assert view.tools.bindings == {"left": "pan", "right": "zoom", "shift+left": "window", "ctrl+right": "zoom"}
    # a left drag now pans (the camera moves, the crosshair stays), a right drag zooms
    camera, cursor = axial.renderer.GetActiveCamera(), window.state.cursor
    focal, scale = camera.GetFocalPoint(), camera.GetParallelScale()
    centre = QtCore.QPoint(axial.width() // 2, axial.height() // 2)
    for button, delta in ((QtCore.Qt.MouseButton.LeftButton, QtCore.QPoint(60, 0)),
                          (QtCore.Qt.MouseButton.RightButton, QtCore.QPoint(0, -50))):
        qtbot.mousePress(axial, button, pos=centre)
        qtbot.mouseMove(axial, centre + delta)
        qtbot.mouseRelease(axial, button, pos=centre + delta)
    assert np.linalg.norm(np.subtract(camera.GetFocalPoint(), focal)) > 10.0 and window.state.cursor == cursor
    assert camera.GetParallelScale() < scale * 0.9
    # Help lists what the views do
    window.show_help()
    rows = dict(window.help_dialog.shortcuts())
    window.help_dialog.close()
    assert rows["Left drag"] == "Pan" and rows["Right drag"].startswith("Zoom") and "Middle drag" not in rows
    assert "Left click / drag" not in rows and rows["Shift+Left drag"].startswith("Window / level")
    # kept in the settings file: the next start binds the same
    assert window.settings["mouse_drag"] == {"left": "pan", "middle": "none", "right": "zoom",
                                             "shift+left": "window", "ctrl+right": "zoom"}
    again = new_window()
    assert again.slice_views["coronal"].tools.bindings == axial.tools.bindings
    # Restore defaults
    dialog = open_mouse_settings(window)
    dialog.defaults_button.click()
    dialog.accept()
    assert axial.tools.bindings == DEFAULT_DRAGS
    window.show_help()
    rows = dict(window.help_dialog.shortcuts())
    window.help_dialog.close()
    assert rows["Left click / drag"].startswith("Move the linked crosshair") and rows["Middle drag"] == "Pan"


def test_drag_bindings_from_a_damaged_setting():
    from ctrg_desktop.app.interaction.bindings import DEFAULT_DRAGS, drag_bindings, overrides_for

    assert drag_bindings({"right": "rotate", "knee": "pan", "middle": "none"}) == {
        k: v for k, v in DEFAULT_DRAGS.items() if k != "middle"}
    assert drag_bindings("not a dict") == DEFAULT_DRAGS
    assert drag_bindings(overrides_for({"left": "zoom"})) == {"left": "zoom"}
