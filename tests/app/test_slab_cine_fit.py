"""Thick slab (MIP / MinIP / mean) in the real slice views, cine playback, and fitting the whole
slice into every view after a layout change or a resize (the real window, real VTK rendering)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.views.fit import fit_frame, slice_corners_world
from ctrg_desktop.imaging.slab import slab_projection
from ctrg_desktop.overlays.composite import GreyWindow
from tests.app.conftest import sample, screen_pixels
from tests.app.helpers import activate

pytestmark = pytest.mark.gui
Qt = QtCore.Qt


def _wheel(widget, steps: int):
    pos = QtCore.QPointF(widget.width() / 2, widget.height() / 2)
    event = QtGui.QWheelEvent(pos, widget.mapToGlobal(pos), QtCore.QPoint(0, 0), QtCore.QPoint(0, 120 * steps),
                              Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                              False)
    QtWidgets.QApplication.sendEvent(widget, event)


def _action(window, shortcut: str):
    return next(a for a in window.actions_ if a.shortcut().toString() == shortcut)


def _activate(qtbot, window, view) -> None:
    """Shortcuts need the active window (as the reader has it)."""
    activate(qtbot, window)
    view.setFocus()


def _inside(view, margin_px: float = 0.5) -> bool:
    """Whether the four corners of the view's current slice are on screen."""
    for corner in slice_corners_world(view):
        x, y = view.world_to_display(corner)
        if not (-margin_px <= x <= view.width() + margin_px and -margin_px <= y <= view.height() + margin_px):
            return False
    return True


def _body(view) -> np.ndarray:
    """The rendered view's pixels inside the slice (the image area, not the black border)."""
    return view.grab_array().astype(np.float64)


# ------------------------------------------------------------------------------------------ slab

def test_slab_mip_on_demo_study_differs_and_is_brighter_than_minip(window, demo_study, qtbot):
    assert window.open_demo()
    window.set_crosshair_visible(False)
    window.set_preset("lung")
    window.set_layout("single")
    axial = window.slice_views["axial"]
    slab = window.reading.slab
    volume, k = window.volume, window.state.cursor[0]
    axial.render_now()
    plain = _body(axial)

    slab.set_thickness(20.0)
    slab.set_mode("mip")
    axial.render_now()
    mip = _body(axial)
    assert axial.info.actor.GetInput().endswith("MIP 19.5 mm")  # 13 slices of 1.5 mm
    assert np.abs(mip - plain).mean() > 3.0  # vessels and ribs of the neighbouring slices show
    assert mip.mean() > plain.mean()

    # the pixels are the real projection's grey: lung voxels where the slab holds no vessel
    plane = slab_projection(volume.array, 0, k, 20.0, 1.5, "mip")
    lungish = (plane > -900) & (plane < -700)
    points = sample(lungish, k, n=80, seed=2)
    expected = GreyWindow(window.state.level, window.state.width)(plane[points[:, 1], points[:, 2]])
    got = screen_pixels(axial, points).mean(axis=1)
    assert np.median(np.abs(got - expected)) < 12

    slab.set_mode("minip")
    axial.render_now()
    minip = _body(axial)
    assert axial.info.actor.GetInput().endswith("MinIP 19.5 mm")
    assert mip.mean() > minip.mean() + 5.0
    slab.set_mode("mean")
    axial.render_now()
    mean = _body(axial)
    assert minip.mean() < mean.mean() < mip.mean()

    # scrolling a 20 mm MIP: time per slab slice (projection alone, the whole frame, a plain frame)
    def scroll(mode):
        slab.set_mode(mode)
        axial.render_now()
        frames, projections = [], []
        for step in range(20):
            window.state.move_slice(0, 1 if step < 10 else -1)
            start = time.perf_counter()
            axial.render_now()
            frames.append(time.perf_counter() - start)
            projections.append(axial.slab.last_ms)
        return 1000 * np.median(frames), np.median(projections)

    plain_frame, _ = scroll("off")
    mip_frame, projection = scroll("mip")
    print(f"\n20 mm MIP axial on the demo study: projection {projection:.2f} ms, frame {mip_frame:.1f} ms, "
          f"plain frame {plain_frame:.1f} ms (view {axial.width()}x{axial.height()})")
    assert projection < 20.0

    slab.set_mode("off")
    window.state.set_cursor((k, *window.state.cursor[1:]))
    axial.render_now()
    np.testing.assert_array_equal(_body(axial), plain)


def test_slab_overlays_crosshair_shortcuts_and_every_view(window, simple_study, qtbot):
    from ctrg_desktop.overlays import LabelMapLayer

    volume, lungs, path = simple_study
    assert window.open_study(path)
    window.set_preset("lung")
    slab = window.reading.slab
    axial = window.slice_views["axial"]
    # the keyboard: T cycles, ] / [ change the thickness, Shift+T turns it off
    _activate(qtbot, window, axial)
    qtbot.keyClick(axial, Qt.Key.Key_T)
    assert slab.mode == "mip" and window.reading.mode_box.currentText() == "MIP"
    thickness = slab.thickness_mm
    qtbot.keyClick(axial, Qt.Key.Key_BracketRight)
    assert slab.thickness_mm > thickness
    qtbot.keyClick(axial, Qt.Key.Key_BracketLeft)
    assert slab.thickness_mm == thickness
    window.reading.thickness_box.setValue(15.0)  # the toolbar
    assert slab.thickness_mm == 15.0
    # the slab is the axial view's own: the others stay plain until "Same slab in every view"
    assert window.reading.slab_label.text().strip() == "Slab (axial)"
    for name in ("coronal", "sagittal"):
        view = window.slice_views[name]
        view.render_now()
        assert window.reading.slabs[name].mode == "off" and "MIP" not in view.info.actor.GetInput()
    next(a for a in window.actions_ if a.text() == "Same slab in every view").trigger()
    # 15 mm at 5 mm (axial): 3 slices; at 4 mm (coronal): 3 slices = 12 mm (5 would be 20); at 3 mm: 5
    for name, text in (("axial", "MIP 15 mm"), ("coronal", "MIP 12 mm"), ("sagittal", "MIP 15 mm")):
        view = window.slice_views[name]
        view.render_now()
        assert view.info.actor.GetInput().endswith(text), view.info.actor.GetInput()
        assert view.crosshair.actor.GetVisibility()
    # a mask on top of the MIP: red where the mask is, at its slice
    k = window.state.cursor[0]
    window.layers.add(LabelMapLayer(lungs.astype(np.uint8), colours={1: (1, 0, 0)}, name="lungs", opacity=1.0))
    window.set_crosshair_visible(False)
    rgb = screen_pixels(axial, sample(lungs[k], k)).astype(int)
    assert ((rgb[:, 0] > 150) & (rgb[:, 1] < 80)).mean() > 0.9
    qtbot.keyClick(axial, Qt.Key.Key_T, Qt.KeyboardModifier.ShiftModifier)
    assert slab.mode == "off" and axial.info.actor.GetInput() == f"Axial  {k + 1}/{volume.shape[0]}"
    window.show_help()
    rows = dict(window.help_dialog.shortcuts())
    window.help_dialog.close()
    assert rows["T"].startswith("Cycle slab mode") and rows["Shift+T"] == "Slab Off"
    assert rows["]"] == "Thicker slab" and rows["["] == "Thinner slab"
    assert rows["K"].startswith("Cine play / pause") and rows["Esc"].startswith("Stop cine")


def test_slab_is_per_view_and_masks_show_as_their_projection(window, simple_study, qtbot):
    """A mask drawn one slice away from the axial view's slice: absent from the plain slice,
    red on the axial 15 mm MIP (the mask's maximum over the slab), still absent from a 5 mm slab
    that does not reach it; the coronal view keeps its own (plain) slab and corner text."""
    import os
    from pathlib import Path

    volume, _, path = simple_study
    assert window.open_study(path)
    window.set_crosshair_visible(False)
    axial, coronal = window.slice_views["axial"], window.slice_views["coronal"]
    k, j, _ = window.state.cursor
    seg = window.segmentation
    mask = seg.new_mask("nodule")
    blob = np.zeros(volume.shape[1:], bool)
    blob[j - 6:j + 6, 14:24] = True
    seg.masks.set_slice(mask.name, 0, k + 1, blob)  # on the next slice only
    points = sample(blob, k, n=40)

    colour = np.asarray(mask.rgb()) * 255  # the mask's colour, blended at its opacity over grey

    def red(view, kji):
        """Share of ``kji`` whose pixel is tinted toward the mask's colour (not grey)."""
        rgb = screen_pixels(view, kji).astype(float)
        grey = rgb.mean(axis=1, keepdims=True)
        tint = (rgb - grey) @ (colour - colour.mean()) / np.linalg.norm(colour - colour.mean())
        return (tint > 25).mean()

    axial.render_now()
    assert red(axial, points) < 0.05  # the plain slice: the mask is not on it
    _activate(qtbot, window, axial)
    window.key_router.under_mouse = axial
    qtbot.keyClick(axial, Qt.Key.Key_T)  # MIP, the axial view only
    window.reading.slabs["axial"].set_thickness(15.0)  # 3 slices at 5 mm: k - 1 .. k + 1
    axial.render_now()
    coronal.render_now()
    assert axial.info.actor.GetInput() == f"Axial  {k + 1}/{volume.shape[0]}\nMIP 15 mm"
    assert coronal.info.actor.GetInput() == f"Coronal  {j + 1}/{volume.shape[1]}"
    assert window.reading.slabs["coronal"].mode == "off"
    assert red(axial, points) > 0.9  # the mask's projection over the slab
    outside = np.array([[k, j, 40], [k, j + 10, 45], [k, j - 10, 50]])
    assert red(axial, outside) == 0.0
    # the slab projection of the mask equals the mask's maximum over slices k - 1 .. k + 1
    layer = seg.layer_of("nodule")
    projected, _ = axial.slab.layers([layer], axial.blends, k)
    np.testing.assert_array_equal(projected[0].array[k], layer.array[k - 1:k + 2].max(axis=0))
    assert layer.array[k].sum() == 0  # the mask itself is untouched
    if os.environ.get("CTRG_SHOT_DIR"):
        window.set_preset("lung")
        window.reading.slabs["axial"].set_thickness(20.0)
        window.render_all()
        window.save_screenshot(Path(os.environ["CTRG_SHOT_DIR"]) / "i13_slab_mask.png")
        window.reading.slabs["axial"].set_thickness(15.0)
    window.reading.slabs["axial"].set_thickness(3.0)  # one slice: the mask is not in it
    axial.render_now()
    assert axial.info.actor.GetInput().endswith("MIP 5 mm") and red(axial, points) < 0.05


# ------------------------------------------------------------------------------------------ cine

def test_cine_advances_loops_and_stops(window, simple_study, qtbot):
    volume, _, path = simple_study
    assert window.open_study(path)
    cine = window.reading.cine
    axial, coronal = window.slice_views["axial"], window.slice_views["coronal"]
    cine.set_fps(30)
    _activate(qtbot, window, axial)
    window.key_router.under_mouse = coronal  # the mouse over the coronal view: K plays it
    qtbot.keyClick(axial, Qt.Key.Key_K)
    assert cine.playing and cine.view is coronal and window.reading.cine_action.isChecked()
    j0 = window.state.cursor[1]
    qtbot.waitUntil(lambda: cine.frames >= 4, timeout=5000)
    assert window.state.cursor[1] == (j0 + cine.frames) % volume.shape[1]
    qtbot.keyClick(axial, Qt.Key.Key_K)  # the shortcut again
    assert not cine.playing and not window.reading.cine_action.isChecked()
    stopped = window.state.cursor
    qtbot.wait(200)
    assert window.state.cursor == stopped  # no more frames

    # loops: the last slice is followed by the first
    window.key_router.under_mouse = None
    window.layout_widget.active = "axial"
    window.state.set_cursor((volume.shape[0] - 2, *window.state.cursor[1:]))
    assert cine.start() and cine.view is axial
    qtbot.waitUntil(lambda: cine.frames >= 3, timeout=5000)
    assert window.state.cursor[0] == (volume.shape[0] - 2 + cine.frames) % volume.shape[0]
    assert cine.frames < volume.shape[0]  # so it wrapped through 0
    # Esc stops it
    qtbot.keyClick(axial, Qt.Key.Key_Escape)
    assert not cine.playing

    # a wheel scroll stops it (and scrolls)
    cine.start(axial)
    qtbot.waitUntil(lambda: cine.frames >= 1, timeout=5000)
    _wheel(axial, 1)
    assert not cine.playing
    k = window.state.cursor[0]
    qtbot.wait(150)
    assert window.state.cursor[0] == k

    # a slice key anywhere, or a click moving the played slice, stops it too
    cine.start(axial)
    qtbot.keyClick(coronal, Qt.Key.Key_Up)
    assert not cine.playing
    cine.start(axial)
    window.state.set_cursor((2, *window.state.cursor[1:]))
    assert not cine.playing
    # a new study stops it
    cine.start(axial)
    assert window.open_study(path) and not cine.playing


def test_cine_frame_rate_setting(window, simple_study, qtbot):
    assert window.open_study(simple_study[2])
    cine, reading = window.reading.cine, window.reading
    reading.fps_box.setValue(5)
    assert cine.fps == 5 and cine.timer.interval() == 200 and window.settings["cine_fps"] == 5
    cine.set_fps(100)
    assert cine.fps == 30 and cine.timer.interval() == 33
    cine.set_fps(10)
    cine.start(window.slice_views["sagittal"])
    start = time.perf_counter()
    qtbot.waitUntil(lambda: cine.frames >= 6, timeout=5000)
    elapsed = time.perf_counter() - start
    cine.stop()
    assert elapsed > 0.45  # 6 frames at 10 fps take about 0.6 s: a timer, not a busy loop


# ------------------------------------------------------------------------------------------ fit

def test_1x3_fits_the_whole_slice_into_each_view(window, demo_study, qtbot):
    assert window.open_demo()
    cursor = (120, 70, 150)
    window.state.set_cursor(cursor)
    window.set_layout("1x3")
    qtbot.wait(50)
    for name, view in window.slice_views.items():
        assert view.isVisible()
        assert _inside(view), name
        camera = view.renderer.GetActiveCamera()
        _, scale = fit_frame(window.volume, name, view.width(), view.height())
        assert camera.GetParallelScale() == pytest.approx(scale)
        # the focal plane holds the slice: the slice did not move
        focal = np.asarray(camera.GetFocalPoint())
        assert float((window.state.cursor_world() - focal) @ view.dop) == pytest.approx(0, abs=1e-6)
    assert window.state.cursor == cursor
    # the axial slice fills the narrow view's width (a small margin, not a tiny picture)
    axial = window.slice_views["axial"]
    xs = [axial.world_to_display(c)[0] for c in slice_corners_world(axial)]
    assert (max(xs) - min(xs)) > 0.9 * axial.width()

    # a window resize refits, a zoomed view keeps its zoom
    coronal = window.slice_views["coronal"]
    coronal.zoom(2.0)
    zoomed = coronal.renderer.GetActiveCamera().GetParallelScale()
    window.resize(window.width() - 300, window.height() - 150)
    qtbot.waitUntil(lambda: abs(axial.renderer.GetActiveCamera().GetParallelScale()
                                - fit_frame(window.volume, "axial", axial.width(), axial.height())[1]) < 1e-6,
                    timeout=3000)
    assert _inside(axial) and _inside(window.slice_views["sagittal"])
    assert coronal.renderer.GetActiveCamera().GetParallelScale() == pytest.approx(zoomed)
    assert window.state.cursor == cursor

    # maximise and back: fitted again, crosshair kept
    window.set_layout("single")
    assert window.layout_widget.visible_views() == ["axial"] and _inside(axial)
    window.set_layout("2x2")
    for name, view in window.slice_views.items():
        assert _inside(view), name
    assert window.state.cursor == cursor


def test_fit_frame_is_reset_view(window, simple_study):
    assert window.open_study(simple_study[2])
    for name, view in window.slice_views.items():
        view.zoom(3.0)
        view.reset_view()
        centre, scale = fit_frame(window.volume, name, view.width(), view.height())
        camera = view.renderer.GetActiveCamera()
        assert camera.GetParallelScale() == pytest.approx(scale)
        assert window.reading.fitter.is_fitted(view, view.width(), view.height())
