"""Unsaved work is never lost silently: closing the window, opening another study or drafting
again with unsaved report edits or masks asks Save / Discard / Cancel (a real message box, or
``CTRG_UNSAVED`` in scripted runs). Cancel keeps everything; Save writes the edited report and
the masks first; Discard drops them and their autosaves."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from PySide6 import QtCore, QtWidgets  # noqa: E402

from ctrg_desktop.app.drafting.report_model import SentenceRef  # noqa: E402
from ctrg_desktop.reports.autosave import AutosaveStore  # noqa: E402
from ctrg_desktop.reports.mask_file import masks_path_for, read_masks  # noqa: E402
from ctrg_desktop.reports.report_file import read_report  # noqa: E402
from tests.app.editing_support import add_box_mask, mentioned, open_copy  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("private_folders")]
Buttons = QtWidgets.QMessageBox.StandardButton
EDITED = "A corrected sentence the reader must not lose."


def _edit(window, study) -> int:
    index = mentioned(study.draft)[0]
    window.editing.edit_text(SentenceRef(index, 0), EDITED)
    return index


def _texts(window, index) -> list[str]:
    return [s.text for s in window.editing.document.structures[index].sentences]


def _ask(monkeypatch) -> None:
    monkeypatch.setenv("CTRG_UNSAVED", "ask")


def test_close_asks_and_cancel_keeps_everything_then_discard_closes(window, study, qtbot, tmp_path, monkeypatch):
    _ask(monkeypatch)
    open_copy(window, study, tmp_path / "report")
    index = _edit(window, study)
    add_box_mask(window)
    prompt = window.editing.prompt
    with qtbot.waitSignal(prompt.asked, timeout=5000) as asked:
        window.close()
    box = asked.args[0]
    qtbot.waitExposed(box)
    assert window.isVisible() and box.isVisible() and box.windowTitle() == "Save your work?"
    assert "The report has edits and 1 mask (nodule) has changes that were not saved." in box.text()
    assert "Closing the window loses them" in box.text()
    assert {box.standardButton(b) for b in box.buttons()} == {Buttons.Save, Buttons.Discard, Buttons.Cancel}
    shot = tmp_path / "unsaved_prompt.png"
    assert box.grab().save(str(shot)) and shot.stat().st_size > 1000
    if os.environ.get("CTRG_TEST_SHOTS"):
        shutil.copyfile(shot, os.path.join(os.environ["CTRG_TEST_SHOTS"], shot.name))

    box.button(Buttons.Cancel).click()  # Cancel: the window, the report and the masks stay
    qtbot.wait(50)
    assert window.isVisible() and prompt.box is None
    assert _texts(window, index)[0] == EDITED and window.editing.document.is_modified
    assert window.segmentation.masks.names == ["nodule"] and window.segmentation.masks.is_modified
    window.editing.autosave.flush()
    window.editing.autosave.masks.flush()
    window.editing.autosave.masks.wait()
    store, key = AutosaveStore(), window.editing.study_key
    assert store.path_for(key).is_file() and store.masks_path(key).is_file()

    with qtbot.waitSignal(prompt.asked, timeout=5000) as asked:
        window.close()
    asked.args[0].button(Buttons.Discard).click()  # Discard: the window closes, the autosaves go
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert not store.path_for(key).exists() and not store.masks_path(key).exists()


def test_open_another_study_asks_and_save_writes_report_and_masks(window, study, simple_study, qtbot, tmp_path,
                                                                   monkeypatch):
    _ask(monkeypatch)
    path = open_copy(window, study, tmp_path / "report")
    _edit(window, study)
    add_box_mask(window)
    clicked = []

    def answer(box):
        assert "Opening another study closes them" in box.text()
        clicked.append(box.text())
        QtCore.QTimer.singleShot(50, box.button(Buttons.Save).click)  # the reader clicks Save

    window.editing.prompt.asked.connect(answer)
    assert window.open_study(simple_study[2])  # File > Open, drop, recent, Ctrl+D all come here
    assert clicked and window.volume.shape == simple_study[0].shape
    opened = read_report(path)  # the edited report went to its file, the masks beside it
    assert opened.document is not None and EDITED in opened.document.report_text()
    assert opened.draft.report == study.draft.report  # the model's draft is kept inside
    [mask] = read_masks(masks_path_for(path))
    assert mask.name == "nodule" and mask.structure == "lung" and int(mask.array.sum()) == 6 * 10 * 10
    assert not window.editing.unsaved().any


def test_scripted_answers_cancel_and_save(window, study, simple_study, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CTRG_UNSAVED", "cancel")
    open_copy(window, study, tmp_path / "report")
    index = _edit(window, study)
    shape = window.volume.shape
    assert not window.open_study(simple_study[2])  # refused at once, no box
    assert window.volume.shape == shape and _texts(window, index)[0] == EDITED
    assert window.editing.prompt.box is None and "unsaved work was kept" in window.last_error
    window.drafting.model = window.drafting.model or "demo"
    draft_action = next(a for a in window.actions_ if a.text() == "&Draft report")
    draft_action.trigger()  # Ctrl+G: a new draft would replace the edited report
    assert not window.drafting.busy and _texts(window, index)[0] == EDITED
    window.close()
    assert window.isVisible() and "Kept the unsaved work" in window.statusBar().currentMessage()

    monkeypatch.setenv("CTRG_UNSAVED", "save")
    saved = []
    window.editing.files.saved.connect(saved.append)
    assert window.open_study(simple_study[2])
    assert len(saved) == 1 and saved[0].report == tmp_path / "report" / "report.json"
    assert EDITED in read_report(saved[0].report).document.report_text()
