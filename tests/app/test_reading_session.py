"""A reading session: keys go where the reader looks, the views jump only on a sentence click,
double click keeps the crosshair, drags follow Help; evidence in one colour per structure with a
legend, a legible tooltip with rank and share, tinted sentences, PDF key images at the patches.

Screenshots go to ``CTRG_TEST_SHOTS`` (a folder) when it is set, else to the test's tmp folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.drafting.report_model import SentenceRef
from ctrg_desktop.app.interaction.bindings import drag_bindings
from ctrg_desktop.overlays.colormaps import hex_to_rgb
from tests.app.editing_support import mentioned

pytestmark = pytest.mark.gui
Qt = QtCore.Qt


def _shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CTRG_TEST_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _grounded(drafting) -> int:
    for s in drafting.draft.structures:
        if s.sentences and drafting.best_patch(s.index) is not None:
            return s.index
    pytest.skip("no mentioned structure of this draft attends inside the study")


def _click_sentence(qtbot, panel, ref: SentenceRef) -> None:
    index = panel.model.index_of(ref)
    panel.view.scrollTo(index)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=panel.view.visualRect(index).center())


def _pos(view, kji) -> QtCore.QPoint:
    x, y = view.world_to_display(view.state.volume.voxel_to_world(kji))
    return QtCore.QPoint(int(round(x)), int(round(y)))


def _centre(widget) -> QtCore.QPoint:
    return QtCore.QPoint(widget.width() // 2, widget.height() // 2)


# ------------------------------------------------------------------------------------ keys and jumps

def test_slice_keys_go_to_the_view_under_the_mouse(window, editing, study, qtbot):
    drafting, panel = window.drafting, window.drafting.report_panel
    index = _grounded(drafting)
    ref = SentenceRef(index, 0)
    _click_sentence(qtbot, panel, ref)
    panel.view.setFocus()  # as the click gives it (no window manager under Xvfb to activate the window)
    assert panel.selected_refs() == [ref]
    ticked, k = drafting.structure_panel.checked(), window.state.cursor[0]
    axial = window.slice_views["axial"]
    qtbot.mouseMove(axial, _centre(axial))  # the reader looks at the image; the list keeps the focus
    qtbot.keyClick(panel.view, Qt.Key.Key_PageDown)
    qtbot.keyClick(panel.view, Qt.Key.Key_Down)
    assert window.state.cursor[0] == max(0, max(0, k - 10) - 1)
    assert panel.selected_refs() == [ref] and drafting.structure_panel.checked() == ticked
    assert panel.view.state() != QtWidgets.QAbstractItemView.State.EditingState
    # the mouse on the focused list: the list takes the arrows, moving the selection only
    qtbot.mouseMove(panel.view.viewport(), _centre(panel.view.viewport()))
    cursor = window.state.cursor
    qtbot.keyClick(panel.view, Qt.Key.Key_Down)
    assert panel.selected_refs() != [ref]
    assert window.state.cursor == cursor and drafting.structure_panel.checked() == ticked
    assert panel.view.state() != QtWidgets.QAbstractItemView.State.EditingState
    qtbot.keyClick(panel.view, Qt.Key.Key_Return)  # Enter chooses (a jump), it does not edit
    assert panel.view.state() != QtWidgets.QAbstractItemView.State.EditingState
    panel.view.setCurrentIndex(panel.model.index_of(ref))
    qtbot.keyClick(panel.view, Qt.Key.Key_F2)  # only F2 (or a double click) edits
    assert panel.view.state() == QtWidgets.QAbstractItemView.State.EditingState
    qtbot.keyClick(panel.view.itemDelegate().last_editor, Qt.Key.Key_Escape)


def test_views_jump_only_on_a_sentence_click_and_never_outside(window, editing, study, qtbot):
    drafting, panel = window.drafting, window.drafting.report_panel
    index = _grounded(drafting)
    _click_sentence(qtbot, panel, SentenceRef(index, 0))
    best = drafting.best_patch(index)
    assert window.state.cursor == tuple(int(round(c)) for c in best["centre_voxel"])
    place = (3, 5, 7)
    window.state.set_cursor(place)  # the reader scrolls away
    ticked = drafting.structure_panel.checked()
    editing.delete_sentences([SentenceRef(index, 0)])  # a reset of the list, then Restore (undo)
    assert editing.undo()
    panel.view.clearFocus()  # a dialog was cancelled: the list gets the focus back
    panel.view.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
    qtbot.wait(20)
    assert window.state.cursor == place and drafting.structure_panel.checked() == ticked
    # a structure whose patches all lie in the padding: the views stay, the status bar says so
    other = next(i for i in mentioned(drafting.draft) if i != index) if len(mentioned(drafting.draft)) > 1 else index
    for patch in drafting.draft.structures[other].top_patches:
        patch["inside_study"] = False
    _click_sentence(qtbot, panel, SentenceRef(other, 0))
    assert window.state.cursor == place
    assert "no attended patch lies inside the study" in window.statusBar().currentMessage()


def test_double_click_keeps_the_crosshair_and_drags_follow_help(window, editing, study, qtbot):
    coronal = window.slice_views["coronal"]
    cursor = window.state.cursor
    qtbot.mouseDClick(coronal, Qt.MouseButton.LeftButton, pos=QtCore.QPoint(25, 30))
    assert window.layout_widget.visible_views() == ["coronal"] and window.state.cursor == cursor
    qtbot.mouseDClick(coronal, Qt.MouseButton.LeftButton, pos=QtCore.QPoint(25, 30))
    assert len(window.layout_widget.visible_views()) == 4 and window.state.cursor == cursor
    axial = window.slice_views["axial"]
    c = _centre(axial)

    def right_drag(dx, dy):
        qtbot.mousePress(axial, Qt.MouseButton.RightButton, pos=c)
        qtbot.mouseMove(axial, c + QtCore.QPoint(dx, dy))
        qtbot.mouseRelease(axial, Qt.MouseButton.RightButton, pos=c + QtCore.QPoint(dx, dy))

    level, width = window.state.level, window.state.width
    right_drag(40, 0)  # left-right: width only
    assert window.state.width > width and window.state.level == level
    width = window.state.width
    right_drag(0, 30)  # down: level up (darker), width kept
    assert window.state.level > level and window.state.width == width and window.state.cursor == cursor
    window.show_help()
    rows = dict(window.help_dialog.shortcuts())
    window.help_dialog.close()
    assert rows["Right drag"].startswith("Window / level (left-right: width, up-down: level)")
    assert rows["Ctrl+Right drag"].startswith("Zoom") and rows["Middle drag"] == "Pan"
    assert "Double click" in rows and "F2" in " ".join(rows)
    axial.tools.bindings = drag_bindings({"right": "zoom"})  # settable (settings: mouse_drag)
    scale = axial.renderer.GetActiveCamera().GetParallelScale()
    right_drag(0, -40)
    assert axial.renderer.GetActiveCamera().GetParallelScale() < scale


# ------------------------------------------------------------------------------------------ evidence

def test_all_structures_one_colour_each_legend_and_tinted_sentences(window, editing, study, qtbot, tmp_path):
    drafting = window.drafting
    panel = drafting.structure_panel
    index = _grounded(drafting)
    window.state.set_cursor(np.round(drafting.best_patch(index)["centre_voxel"]))
    start = time.perf_counter()
    qtbot.mouseClick(panel.all_button, Qt.MouseButton.LeftButton)
    for view in window.slice_views.values():
        view.render_now()
    seconds = time.perf_counter() - start
    print(f"All ticked and the three slice views repainted in {seconds * 1000:.0f} ms")
    assert seconds < 2.0  # a loose bound (the target, 200 ms, is printed; a loaded CI machine is slower)
    structures = drafting.draft.structures
    assert sorted(panel.checked()) == [s.index for s in structures]
    for s in structures:
        heat = window.layers[f"attention: {s.name}"]
        assert heat.colormap == s.colour and heat.visible  # one hue: the structure's colour
        middle = heat.rgba_table()[128, :3]
        assert np.allclose(middle, hex_to_rgb(s.colour), atol=0.08), (s.name, middle)
        for box in window.layers[f"patches: {s.name}"].boxes:
            assert box.colour == hex_to_rgb(s.colour)
    assert drafting.legends["axial"].text() == [s.name for s in structures]
    model = drafting.report_panel.model
    ref = SentenceRef(index, 0)
    assert model.data(model.index_of(ref), Qt.ItemDataRole.BackgroundRole) is not None
    path = window.save_screenshot(_shots(tmp_path) / "evidence_all.png")
    assert path.stat().st_size > 10000
    drafting.report_panel.select_structure(index)
    panel.set_checked(index, False)  # unticked: its sentences are neither tinted nor selected
    assert model.data(model.index_of(ref), Qt.ItemDataRole.BackgroundRole) is None
    assert all(r.structure != index for r in drafting.report_panel.selected_refs())
    assert structures[index].name not in drafting.legends["axial"].text()


def test_hover_tooltip_is_legible_with_rank_and_share(window, editing, study, qtbot, tmp_path):
    drafting = window.drafting
    index = _grounded(drafting)
    drafting.structure_panel.set_checked(index, True)
    patch = drafting.best_patch(index)
    window.state.set_cursor(np.round(patch["centre_voxel"]))
    axial = window.slice_views["axial"]
    axial.render_now()
    qtbot.mouseMove(axial, _pos(axial, patch["centre_voxel"]))
    s = drafting.draft.structures[index]
    share = 100.0 * patch["score"] / float(np.sum(drafting.draft.attention[index]))
    assert f"{s.name}: patch #{patch['rank']} of {len(s.top_patches)}" in drafting.hover_text
    assert f"{share:.1f} % of its attention" in drafting.hover_text
    tips = []
    qtbot.waitUntil(lambda: bool(tips.extend(w for w in QtWidgets.QApplication.topLevelWidgets()
                                             if w.inherits("QTipLabel") and w.isVisible()) or tips), timeout=3000)
    image = tips[0].grab().toImage()
    image.save(str(_shots(tmp_path) / "tooltip.png"))
    light = [image.pixelColor(x, y).lightness() for x in range(2, image.width() - 2, 3)
             for y in range(2, image.height() - 2, 3)]
    assert np.median(light) > 200 and min(light) < 90, (np.median(light), min(light))  # dark text on light


def test_pdf_key_images_are_the_chosen_structures_best_patches(window, editing, study, qtbot):
    drafting = window.drafting
    index = _grounded(drafting)
    drafting.structure_panel.set_checked(index, True)
    place = (1, 2, 3)
    window.state.set_cursor(place)
    images = editing.exports.key_images()
    best = drafting.best_patch(index)
    centre = [int(round(c)) for c in best["centre_voxel"]]
    name = drafting.draft.structures[index].name
    assert len(images) == len(window.layout_widget.visible_views()) - 1  # the three slice views
    for (caption, image), view in zip(images, window.slice_views.values()):
        assert f"slice {centre[view.axis] + 1} of" in caption and f"{name}: patch #{best['rank']}" in caption
        assert not image.isNull()
    assert window.state.cursor == place and drafting.structure_panel.checked() == [index]
