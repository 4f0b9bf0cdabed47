"""SAM masks in the window with the real LiteMedSAM: box and point prompts (Dice against the
phantom's label map), masks drawn in the views, propagation with progress and cancel, brush /
erase / undo with the mouse, the Masks dock, "Segment structure" on the real demo study's draft,
and ``ctrg-desktop --segment``.

LiteMedSAM runs in its worker process; one process (``sam_process``) serves the whole module, so
the model loads once and slices embedded by one test are cached for the next.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from PySide6 import QtCore, QtGui  # noqa: E402

from ctrg_desktop.app.segment.process import SegmenterProcess  # noqa: E402
from tests.app.helpers import activate  # noqa: E402

pytestmark = pytest.mark.gui
Qt = QtCore.Qt
SAM_TIMEOUT = 180_000  # ms: a slice embedding takes 1-2 s on a free CPU, far more on a busy one


class KeptProcess(SegmenterProcess):
    """The module's worker: windows closing do not stop it."""

    def stop(self) -> None:
        pass


@pytest.fixture(scope="module")
def sam_process():
    process = KeptProcess()
    yield process
    SegmenterProcess.stop(process)


@pytest.fixture
def seg(window, sam_process):
    controller = window.segmentation
    controller.worker.process = sam_process
    yield controller
    assert controller.worker.wait_idle(SAM_TIMEOUT / 1000), "the segmenter worker did not finish"


@pytest.fixture(scope="module")
def heart(phantom_study):
    from ctrg_desktop.data.phantoms import Tissue

    labels = phantom_study.label_map == Tissue.HEART
    k = int(np.argmax(labels.sum(axis=(1, 2))))
    return k, labels


def dice(a, b) -> float:
    return 2.0 * float((a & b).sum()) / max(1.0, float(a.sum() + b.sum()))


def voxel_pos(view, kji) -> QtCore.QPoint:
    x, y = view.world_to_display(view.state.volume.voxel_to_world(np.asarray(kji, float)))
    return QtCore.QPoint(int(round(x)), int(round(y)))


def colour_pixels(view, rgb, tolerance=40) -> int:
    view.render_now()
    pixels = view.grab_array().astype(int)
    return int((np.abs(pixels - np.asarray(rgb) * 255).max(axis=2) < tolerance).sum())


def trigger(window, text: str) -> None:
    next(a for a in window.actions_ if a.text().replace("&", "") == text).trigger()


def drag(qtbot, view, start, end, steps: int = 4) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        qtbot.mouseMove(view, QtCore.QPoint(int(start.x() + t * (end.x() - start.x())),
                                            int(start.y() + t * (end.y() - start.y()))))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def ctrl_z(qtbot, window, view) -> None:
    """Ctrl+Z as the reader presses it in a slice view (shortcuts need the active window)."""
    activate(qtbot, window)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def open_phantom(window, phantom_nifti, k):
    assert window.open_study(phantom_nifti)
    window.set_crosshair_visible(False)
    window.state.set_cursor((k, 32, 32))
    axial = window.slice_views["axial"]
    axial.setFocus()
    window.render_all()
    return axial


# ------------------------------------------------------------------------------------- prompts

def test_box_then_point_prompt_on_the_phantom_heart(window, seg, phantom_nifti, heart, qtbot):
    from scipy import ndimage

    k, labels = heart
    truth = labels[k]
    axial = open_phantom(window, phantom_nifti, k)
    with qtbot.waitSignal(seg.embedded, timeout=SAM_TIMEOUT, check_params_cb=lambda job: job.ok):
        trigger(window, "Box prompt")  # choosing a SAM tool embeds the slice in the background
    assert window.state.tool == "box prompt" and window.segment_tool_actions[2].isChecked()
    rows, cols = np.flatnonzero(truth.any(axis=1)), np.flatnonzero(truth.any(axis=0))
    with qtbot.waitSignal(seg.mask_done, timeout=SAM_TIMEOUT) as done:
        drag(qtbot, axial, voxel_pos(axial, (k, rows[0], cols[0])), voxel_pos(axial, (k, rows[-1], cols[-1])))
    assert done.args == [True], window.last_error
    assert seg.last_mask_job.result["cached"], "the box prompt re-embedded a slice embedded in the background"
    mask = seg.masks.get("Mask 1")
    box_dice = dice(mask.array[k], truth)
    assert box_dice > 0.6 and mask.slices_used(0).tolist() == [k]
    assert seg.session.box is not None and seg.markers.lines["axial"].actor.GetVisibility()

    # a point with the cached embedding: another mask, the clicked pixel in it, milliseconds
    seg.new_mask("point")
    depth = ndimage.distance_transform_edt(truth)
    y, x = (int(v) for v in np.unravel_index(int(np.argmax(depth)), depth.shape))  # deep inside the heart
    trigger(window, "Positive point")
    with qtbot.waitSignal(seg.mask_done, timeout=SAM_TIMEOUT) as done:
        qtbot.mouseClick(axial, Qt.MouseButton.LeftButton, pos=voxel_pos(axial, (k, y, x)))
    assert done.args == [True], window.last_error
    point = seg.masks.get("point").array[k]
    assert seg.last_mask_job.result["cached"] and point[y, x] and dice(point, truth) > 0.4
    print(f"\nphantom heart: box Dice {box_dice:.3f}, point Dice {dice(point, truth):.3f}; cached prompt "
          f"{seg.timings['prompt'] * 1000:.0f} ms (decoder {seg.timings['predict'] * 1000:.0f} ms)")
    assert seg.timings["prompt"] < 10.0

    # both masks are layers drawn in the slice views and the 3D view
    assert {"mask: Mask 1", "mask: point"} <= set(window.layers.names)
    seg.set_active("Mask 1")
    seg.panel.opacity.setValue(100)
    seg.masks.set_visible("point", False)
    rgb = mask.rgb()
    shown = colour_pixels(axial, rgb)
    seg.panel.item_of("Mask 1").setCheckState(0, Qt.CheckState.Unchecked)  # the tick box hides it
    hidden = colour_pixels(axial, rgb)
    assert not mask.visible and shown > 100 and shown > 5 * hidden, (shown, hidden)
    seg.flush_surfaces()  # the 3D surface (rebuilt when the edits pause)
    mapper = window.volume_view.overlays.actors[id(seg.layer_of("Mask 1"))].GetMapper()
    mapper.Update()
    assert mapper.GetInput().GetNumberOfPoints() > 0


def test_propagation_grows_the_mask_and_undo_removes_it(window, seg, phantom_nifti, heart, qtbot):
    k, labels = heart
    open_phantom(window, phantom_nifti, k)
    truth = labels[k]
    rows, cols = np.flatnonzero(truth.any(axis=1)), np.flatnonzero(truth.any(axis=0))
    with qtbot.waitSignal(seg.mask_done, timeout=SAM_TIMEOUT):
        seg.set_box(window.slice_views["axial"], (cols[0], rows[0], cols[-1], rows[-1]))
    mask = seg.active_mask()
    seg.max_slices = 1
    fractions = []
    window.status.progress_bar.valueChanged.connect(fractions.append)
    with qtbot.waitSignal(seg.propagation_done, timeout=2 * SAM_TIMEOUT) as done:
        trigger(window, "Propagate in 3D")
        assert window.status.progress_bar.isVisible() and window.status.cancel_button.isVisible()
    assert done.args == [True], window.last_error
    used = mask.slices_used(0).tolist()
    assert used == [k - 1, k, k + 1], used
    assert dice(mask.array[k - 1:k + 2], labels[k - 1:k + 2]) > 0.5
    assert fractions and not window.status.progress_bar.isVisible()
    assert "Propagated mask Mask 1" in window.statusBar().currentMessage()
    axial = window.slice_views["axial"]
    trigger(window, "Undo mask edit")
    assert mask.slices_used(0).tolist() == [k]
    trigger(window, "Redo mask edit")
    assert mask.slices_used(0).tolist() == used
    ctrl_z(qtbot, window, axial)  # Ctrl+Z in a view
    assert mask.slices_used(0).tolist() == [k]


@pytest.mark.slow
def test_cancel_stops_a_propagation_and_keeps_its_slices(window, seg, phantom_nifti, heart, qtbot):
    k, labels = heart
    open_phantom(window, phantom_nifti, k)
    truth = labels[k]
    rows, cols = np.flatnonzero(truth.any(axis=1)), np.flatnonzero(truth.any(axis=0))
    with qtbot.waitSignal(seg.mask_done, timeout=SAM_TIMEOUT):
        seg.set_box(window.slice_views["axial"], (cols[0], rows[0], cols[-1], rows[-1]))
    seg.max_slices = 8
    progress = []
    seg.worker.progress.connect(lambda job, done, planned: progress.append(done))
    with qtbot.waitSignal(seg.worker.progress, timeout=2 * SAM_TIMEOUT):
        job = seg.propagate()
    start = time.perf_counter()
    with qtbot.waitSignal(seg.propagation_done, timeout=SAM_TIMEOUT):
        window.status.cancel_button.click()
    assert job.cancelled and job.ok and time.perf_counter() - start < 60
    assert "Propagation cancelled" in window.statusBar().currentMessage()
    assert len(seg.active_mask().slices_used(0)) < 1 + 2 * 8 and max(progress) < 16


# ------------------------------------------------------------------------------ brush, masks dock

def test_brush_erase_and_undo_with_the_mouse(window, seg, phantom_nifti, qtbot):
    open_phantom(window, phantom_nifti, 20)
    axial = window.slice_views["axial"]
    seg.brush_mm = 6.0  # 6 mm on 5 mm pixels: discs 1.2 pixels in radius
    trigger(window, "Brush")
    drag(qtbot, axial, voxel_pos(axial, (20, 32, 10)), voxel_pos(axial, (20, 32, 50)), steps=8)
    mask = seg.active_mask()
    assert mask is not None and mask.algorithm is None and mask.slices_used(0).tolist() == [20]
    painted = mask.array[20].copy()
    assert painted[32, 10:51].all() and painted.sum() > 41 * 3
    assert seg.panel.tree.topLevelItemCount() == 1 and seg.panel.item_of(mask.name).text(2) == f"{mask.voxels:,}"
    trigger(window, "Erase")
    drag(qtbot, axial, voxel_pos(axial, (20, 20, 30)), voxel_pos(axial, (20, 44, 30)), steps=8)
    erased = mask.array[20].copy()
    assert not erased[20:45, 30].any() and erased[32, 10:20].all() and erased.sum() < painted.sum()
    ctrl_z(qtbot, window, axial)
    assert np.array_equal(mask.array[20], painted)
    seg.panel.undo_button.click()  # the stroke that made the mask
    assert mask.voxels == 0
    seg.panel.redo_button.click()
    assert np.array_equal(mask.array[20], painted)
    assert seg.mask_specs()[0].algorithm is None  # drawn by hand


def test_masks_dock_renames_assigns_deletes(window, seg, phantom_nifti, phantom_demo_draft, qtbot):
    open_phantom(window, phantom_nifti, 20)
    assert window.drafting.open_draft(phantom_demo_draft)
    structures = [s.name for s in window.drafting.draft.structures]
    a = seg.new_mask()
    seg.masks.set_slice(a.name, 0, 20, np.ones((64, 64), bool))
    b = seg.new_mask()
    panel = seg.panel
    assert panel.tree.topLevelItemCount() == 2 and seg.active == b.name
    assert [panel.structure.itemText(n) for n in range(panel.structure.count())][1:] == structures
    panel.tree.setCurrentItem(panel.item_of(a.name))
    assert seg.active == a.name
    panel.item_of(a.name).setText(0, "left lung")  # as the editor does after a double click
    qtbot.wait(10)
    assert a.name == "left lung" and seg.active == "left lung" and "mask: left lung" in window.layers
    panel.structure.setCurrentText(structures[2])
    assert a.structure == structures[2] and panel.item_of("left lung").text(1) == structures[2]
    panel.opacity.setValue(30)
    assert seg.layer_of("left lung").opacity == pytest.approx(0.3)
    panel.item_of(b.name).setText(0, "left lung")  # a duplicate name is refused, the dock shows the old one
    qtbot.wait(10)
    assert "exists already" in window.last_error and b.name != "left lung"
    qtbot.waitUntil(lambda: panel.item_of(b.name) is not None)
    specs = seg.mask_specs()
    assert [(s.name, s.structure, s.array.sum()) for s in specs] == [("left lung", structures[2], 64 * 64)]
    panel.tree.setCurrentItem(panel.item_of("left lung"))
    panel.delete_button.click()
    assert "left lung" not in seg.masks and "mask: left lung" not in window.layers and seg.mask_specs() == []
    seg.undo()
    assert "mask: left lung" in window.layers and seg.mask_specs()[0].structure == structures[2]


# ----------------------------------------------------------------------- the real demo study

@pytest.fixture(scope="module")
def phantom_demo_draft(phantom_study, tmp_path_factory):
    """The demo model's draft of the phantom (in this process), saved for Open draft."""
    from ctrg_desktop.inference import draft_report

    path = tmp_path_factory.mktemp("seg-draft") / "phantom.json"
    draft_report(phantom_study.volume, "demo", device="cpu").save(path)
    return path


@pytest.fixture(scope="module")
def demo_draft(demo_study, tmp_path_factory):
    """The demo model's draft of the real demo CT, saved with its attention map."""
    from ctrg_desktop.inference import draft_report
    from ctrg_desktop.io.readers import read_study

    path = tmp_path_factory.mktemp("demo-draft") / "report.json"
    draft_report(read_study(demo_study.nifti), "demo", device="cpu").save(path)
    return path


def segmentable(draft) -> str:
    """A structure whose top patches cross the axial slice of its best patch."""
    for s in draft.structures:
        best = sorted((p for p in s.top_patches if p["inside_study"]), key=lambda p: -p["score"])
        if best and s.sentences:
            return s.name
    pytest.skip("no structure of this draft attends inside the study")


@pytest.mark.slow
def test_segment_structure_on_the_real_demo_study(window, seg, demo_study, demo_draft, qtbot):
    from ctrg_desktop.overlays.colormaps import hex_to_rgb

    assert window.open_demo()
    assert window.drafting.open_draft(demo_draft)
    draft = window.drafting.draft
    window.set_crosshair_visible(False)
    name = segmentable(draft)
    index = window.drafting.show_structure(name)
    axial = window.slice_views["axial"]
    with qtbot.waitSignal(seg.mask_done, timeout=SAM_TIMEOUT) as done:
        trigger(window, "Segment structure")
    assert done.args == [True], window.last_error
    mask = seg.masks.get(name)
    s = draft.structures[index]
    assert mask.structure == name and mask.colour == s.colour.lower() and mask.algorithm == "LiteMedSAM"
    k = window.state.cursor[0]
    assert mask.slices_used(0).tolist() == [k] and mask.voxels > 20
    assert window.docks["Masks"].isVisible()
    seg.masks.set_opacity(name, 1.0)
    window.layers[f"patches: {name}"].visible = False
    window.layers[f"attention: {name}"].visible = False
    rgb = hex_to_rgb(s.colour)
    shown = colour_pixels(axial, rgb)
    seg.masks.set_visible(name, False)
    hidden = colour_pixels(axial, rgb)
    assert shown > 50 and shown > 3 * hidden, (shown, hidden)
    spec = seg.mask_specs()[0]
    assert spec.structure == name and spec.array.shape == window.volume.shape and spec.array.sum() == mask.voxels
    print(f"\ndemo study, {name}: {mask.voxels} voxels on axial slice {k + 1}; {seg.timings}")


@pytest.mark.slow
def test_cli_segment_screenshot(display, qapp, demo_study, demo_draft, sam_process, tmp_path, monkeypatch, capsys):
    from ctrg_desktop.app import main as app_main
    from ctrg_desktop.app.segment import worker
    from ctrg_desktop.inference import load_draft

    monkeypatch.setattr(worker, "SegmenterProcess", lambda: sam_process)
    draft = load_draft(demo_draft)
    name = segmentable(draft)
    out = tmp_path / "segment.png"
    code = app_main.main([str(demo_study.nifti), "--open-draft", str(demo_draft), "--structure", name, "--segment",
                          "--screenshot", str(out)])
    assert code == 0, capsys.readouterr().err
    image = QtGui.QImage(str(out)).convertToFormat(QtGui.QImage.Format.Format_RGB888)
    assert image.width() > 600 and out.stat().st_size > 10_000
    assert app_main.main([str(demo_study.nifti), "--segment", "--screenshot", str(out)]) == 2
    assert "need a report" in capsys.readouterr().err
