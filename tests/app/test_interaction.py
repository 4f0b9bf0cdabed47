"""Scrolling, linked crosshair, cursor readout, measurement, zoom/pan, window drag, layouts."""

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

pytestmark = pytest.mark.gui
Qt = QtCore.Qt


@pytest.fixture
def opened(window, simple_study):
    volume, lungs, path = simple_study
    assert window.open_study(path)
    np.testing.assert_array_equal(window.volume.array, volume.array)
    return window


def _wheel(widget, steps: int, modifiers=Qt.KeyboardModifier.NoModifier):
    pos = QtCore.QPointF(widget.width() / 2, widget.height() / 2)
    event = QtGui.QWheelEvent(pos, widget.mapToGlobal(pos), QtCore.QPoint(0, 0), QtCore.QPoint(0, 120 * steps),
                              Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(widget, event)


def _point(view, kji) -> QtCore.QPoint:
    x, y = view.world_to_display(view.state.volume.voxel_to_world(kji))
    return QtCore.QPoint(int(round(x)), int(round(y)))


def test_scroll_with_keys_and_wheel(opened, qtbot):
    axial = opened.slice_views["axial"]
    k0 = opened.state.cursor[0]
    qtbot.keyClick(axial, Qt.Key.Key_Up)
    assert opened.state.cursor[0] == k0 + 1
    qtbot.keyClick(axial, Qt.Key.Key_PageDown)
    assert opened.state.cursor[0] == k0 - 9
    _wheel(axial, 2)
    assert opened.state.cursor[0] == k0 - 7
    qtbot.keyClick(axial, Qt.Key.Key_End)
    assert opened.state.cursor[0] == opened.volume.shape[0] - 1
    axial.render_now()
    assert axial.info.actor.GetInput() == f"Axial  40/40"
    sagittal = opened.slice_views["sagittal"]
    qtbot.keyClick(sagittal, Qt.Key.Key_Down)
    assert opened.state.cursor[2] == opened.volume.shape[2] // 2 - 1


def test_scrolling_shows_the_right_slice(opened, simple_study):
    volume, lungs, _ = simple_study
    opened.set_crosshair_visible(False)
    opened.set_preset("lung")
    axial = opened.slice_views["axial"]
    centre = (0, 30, 19)  # inside the right lung from slice 5 to 35
    for k, lung in ((2, False), (20, True)):
        opened.state.set_cursor((k, 32, 32))
        axial.render_now()
        x, y = axial.world_to_display(volume.voxel_to_world((k, *centre[1:])))
        grey = axial.grab_array()[int(y), int(x)].mean()
        assert (grey < 120) == lung, (k, grey)


def test_click_moves_linked_crosshair_and_readout(opened, qtbot):
    axial = opened.slice_views["axial"]
    target = (opened.state.cursor[0], 30, 19)
    qtbot.mouseClick(axial, Qt.MouseButton.LeftButton, pos=_point(axial, target))
    assert opened.state.cursor == target
    assert opened.slice_views["coronal"].slice_index == 30
    assert opened.slice_views["sagittal"].slice_index == 19
    hu = int(opened.volume.array[target])
    assert f"{hu} HU" in opened.status.readout_label.text()
    assert "voxel (k,j,i) 20, 30, 19" in opened.status.readout_label.text()
    # hover readout follows the mouse without moving the cursor
    qtbot.mouseMove(axial, _point(axial, (target[0], 50, 32)))
    assert f"{int(opened.volume.array[target[0], 50, 32])} HU" in opened.status.readout_label.text()
    assert opened.state.cursor == target


def test_distance_measurement_in_mm(opened, qtbot):
    axial = opened.slice_views["axial"]
    opened.state.set_tool("measure")
    k = opened.state.cursor[0]
    a, b = _point(axial, (k, 10, 10)), _point(axial, (k, 10, 50))
    measured = []
    axial.measured.connect(measured.append)
    qtbot.mousePress(axial, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(axial, b)
    qtbot.mouseRelease(axial, Qt.MouseButton.LeftButton, pos=b)
    assert measured and measured[0] == pytest.approx(40 * 3.0, abs=3.0)  # 40 columns at 3 mm
    [line] = opened.measuring.measurements.items  # kept, labelled, drawn beside the line
    assert line.label == "M1" and line.values["length_mm"] == measured[0]
    assert opened.measuring.overlays.views["axial"].labels[0].actor.GetInput() == f"M1  {measured[0]:.1f} mm"
    assert opened.state.cursor[0] == k


def test_window_drag_zoom_pan_and_reset(opened, qtbot):
    axial = opened.slice_views["axial"]
    level, width = opened.state.level, opened.state.width
    centre = QtCore.QPoint(axial.width() // 2, axial.height() // 2)
    qtbot.mousePress(axial, Qt.MouseButton.RightButton, pos=centre)
    qtbot.mouseMove(axial, centre + QtCore.QPoint(50, 20))
    qtbot.mouseRelease(axial, Qt.MouseButton.RightButton, pos=centre + QtCore.QPoint(50, 20))
    assert opened.state.width > width and opened.state.level > level
    assert opened.preset_box.currentText() == "custom"
    camera = axial.renderer.GetActiveCamera()
    scale = camera.GetParallelScale()
    _wheel(axial, 1, Qt.KeyboardModifier.ControlModifier)
    assert camera.GetParallelScale() < scale
    focal = np.array(camera.GetFocalPoint())
    axial.pan((10.0, 0.0, 0.0))
    assert np.allclose(np.array(camera.GetFocalPoint()) - focal, (10, 0, 0))
    qtbot.keyClick(axial, Qt.Key.Key_R)
    assert camera.GetParallelScale() == pytest.approx(scale)


def test_layouts_and_maximise(opened, qtbot):
    opened.set_layout("1x3")
    assert opened.layout_widget.visible_views() == ["axial", "coronal", "sagittal"]
    opened.set_layout("single")
    assert opened.layout_widget.visible_views() == ["axial"]
    opened.set_layout("2x2")
    assert len(opened.layout_widget.visible_views()) == 4
    coronal = opened.slice_views["coronal"]
    qtbot.mouseDClick(coronal, Qt.MouseButton.LeftButton, pos=QtCore.QPoint(20, 20))
    assert opened.layout_widget.visible_views() == ["coronal"]
    qtbot.mouseDClick(coronal, Qt.MouseButton.LeftButton, pos=QtCore.QPoint(20, 20))
    assert len(opened.layout_widget.visible_views()) == 4


def test_view_screenshot_png(opened, tmp_path):
    path = opened.save_screenshot(tmp_path / "axial.png", "axial")
    image = QtGui.QImage(str(path))
    axial = opened.slice_views["axial"]
    assert (image.width(), image.height()) == (axial.width(), axial.height())
