"""Correcting the draft in the real window: inline edit, undo/redo from the keyboard and the Edit
menu, add / delete / reorder / drag / move to another structure, keywords with rerouting, and
the changes dialog. The demo model's draft of a phantom study is reviewed (no model in the GUI)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from ctrg_desktop.app.drafting.report_model import EDITED_COLOUR, USER_COLOUR, SentenceRef  # noqa: E402
from ctrg_desktop.app.editing.sentence_editor import NEW_SENTENCE  # noqa: E402
from tests.app.editing_support import mentioned, open_with_draft  # noqa: E402
from tests.app.helpers import activate  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("private_folders")]
Qt = QtCore.Qt


@pytest.fixture
def editing(window, study, qtbot):
    open_with_draft(window, study)
    activate(qtbot, window)
    return window.editing


def _texts(editing, structure: int) -> list[str]:
    return [s.text for s in editing.document.structures[structure].sentences]


def _shown(editing, structure: int) -> list[str]:
    model = editing.panel.model
    return [model.text(r) for r in model.refs(structure)]


def _action(window, text: str):
    return next(a for a in window.actions_ if a.text().replace("&", "").startswith(text))


def test_inline_edit_then_undo_redo_by_keys_and_menu(window, editing, study, qtbot):
    index = mentioned(study.draft)[0]
    ref = SentenceRef(index, 0)
    original = study.draft.structures[index].sentences[0]
    panel = editing.panel
    assert _shown(editing, index)[0] == original and editing.editor.state_label.text() == "As drafted"
    undo, redo = editing.undo_action, editing.redo_action
    assert not undo.isEnabled() and not redo.isEnabled()

    editor = editing.editor.edit(ref)  # what a double click or F2 opens
    assert editor is not None and editor.toPlainText() == original
    qtbot.keyClicks(editor, "Small  nodule in the left lower lobe. ")  # replaces the selected text
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    edited = "Small nodule in the left lower lobe."
    assert _texts(editing, index)[0] == edited and _shown(editing, index)[0] == edited
    foreground = panel.model.data(panel.model.index_of(ref), Qt.ItemDataRole.ForegroundRole)
    assert foreground.color() == QtGui.QColor(EDITED_COLOUR)
    assert original in panel.model.data(panel.model.index_of(ref), Qt.ItemDataRole.ToolTipRole)
    assert undo.isEnabled() and undo.text() == "&Undo edit sentence"
    assert editing.editor.state_label.text() == "Edited, not accepted"

    editor = editing.editor.edit(ref)  # Esc keeps the text
    qtbot.keyClicks(editor, "discarded words")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert _texts(editing, index)[0] == edited

    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _texts(editing, index)[0] == original and _shown(editing, index)[0] == original
    assert redo.isEnabled() and not editing.document.is_modified
    qtbot.keyClick(panel.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _shown(editing, index)[0] == edited
    undo.trigger()  # Edit > Undo
    assert _shown(editing, index)[0] == original
    redo.trigger()  # Edit > Redo
    assert _shown(editing, index)[0] == edited and editing.document.is_modified

    editor = editing.editor.edit(ref)  # an emptied sentence is deleted
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert edited not in _texts(editing, index)


def test_add_delete_reorder_and_drag(window, editing, study, qtbot):
    panel, editor = editing.panel, editing.editor
    index = mentioned(study.draft, 2)[0]
    before = _texts(editing, index)
    # Add (tool bar, on the chosen structure): a placeholder opens in the editor; Esc takes it back
    panel.view.setCurrentIndex(panel.model.structure_index(index))
    editor.add_action.trigger()
    assert _texts(editing, index) == before + [NEW_SENTENCE]
    qtbot.keyClick(editor.delegate.last_editor, Qt.Key.Key_Escape)
    assert _texts(editing, index) == before
    editor.add_action.trigger()
    qtbot.keyClicks(editor.delegate.last_editor, "Added by the reader.")
    qtbot.keyClick(editor.delegate.last_editor, Qt.Key.Key_Return)
    assert _texts(editing, index) == before + ["Added by the reader."]
    added = SentenceRef(index, len(before))
    assert panel.model.data(panel.model.index_of(added), Qt.ItemDataRole.ForegroundRole).color() == \
        QtGui.QColor(USER_COLOUR)
    # Alt+Up twice: the new sentence moves to second place, still selected
    panel.select_sentence(added)
    panel.view.setCurrentIndex(panel.model.index_of(added))
    panel.view.setFocus()
    for _ in range(len(before) - 1):
        qtbot.keyClick(panel.view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert _texts(editing, index) == [before[0], "Added by the reader.", *before[1:]]
    assert panel.selected_refs() == [SentenceRef(index, 1)]
    editor.down_action.trigger()  # tool bar Down
    assert _texts(editing, index)[2] == "Added by the reader."
    # Del deletes the selection
    panel.select_sentence(SentenceRef(index, 2))
    panel.view.setCurrentIndex(panel.model.index_of(SentenceRef(index, 2)))
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    assert _texts(editing, index) == before
    # drag the first sentence onto another structure's heading, then before that structure's first sentence
    other = next(i for i in mentioned(study.draft) if i != index)
    target_before = _texts(editing, other)
    model = panel.model
    data = model.mimeData([model.index_of(SentenceRef(index, 0))])
    assert model.canDropMimeData(data, Qt.DropAction.MoveAction, -1, 0, model.structure_index(other))
    # the drop moves the sentence through the controller and returns False: the view removes no rows
    assert not model.dropMimeData(data, Qt.DropAction.MoveAction, -1, 0, model.structure_index(other))
    assert _texts(editing, other) == target_before + [before[0]] and _texts(editing, index) == before[1:]
    moved = SentenceRef(other, len(target_before))
    data = model.mimeData([model.index_of(moved)])
    model.dropMimeData(data, Qt.DropAction.MoveAction, -1, 0, model.index_of(SentenceRef(other, 0)))
    assert _texts(editing, other) == [before[0], *target_before]
    for _ in range(2):
        editing.undo()
    assert _texts(editing, index) == before and _texts(editing, other) == target_before


def test_move_to_structure_by_context_menu(window, editing, study, qtbot):
    index = mentioned(study.draft)[0]
    panel, document = editing.panel, editing.document
    others = document.structure_set.others_index
    text = _texts(editing, index)[0]
    menu = editing.editor.context_menu(panel.model.index_of(SentenceRef(index, 0)))
    move = next(a.menu() for a in menu.actions() if a.menu() is not None)
    assert [a.text() for a in move.actions()] == [n for i, n in enumerate(document.names) if i != index]
    next(a for a in move.actions() if a.text() == "others").trigger()
    assert text not in _texts(editing, index) and _texts(editing, others)[-1] == text
    moved = SentenceRef(others, len(_texts(editing, others)) - 1)
    assert panel.selected_refs() == [moved]  # the selection follows the sentence
    panel.view.scrollTo(panel.model.index_of(moved))
    rect = panel.view.visualRect(panel.model.index_of(moved))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.drafting.focused == others  # the sentence now belongs to "others"
    diff = document.diff()
    assert diff.moved == [(text, document.names[index], "others")]
    # a structure row's menu: add a sentence, keywords, reroute
    menu = editing.editor.context_menu(panel.model.structure_index(index))
    assert [a.text() for a in menu.actions()][0] == f"&Add sentence to {document.names[index]}"


def test_keywords_dialog_reroutes_and_undoes(window, editing, study, qtbot):
    document = editing.document
    index = mentioned(study.draft)[0]
    sentence = _texts(editing, index)[0]
    word = max(sentence.rstrip(".").split(), key=len)  # a word of that sentence as a new keyword
    target = next(i for i, n in enumerate(document.names) if n == "thyroid")
    assert sentence not in _texts(editing, target)
    _action(window, "Structure keywords").trigger()  # the chosen row's structure (none chosen: the first)
    dialog = editing.keywords_dialog
    assert dialog.isVisible() and dialog.index == 0
    dialog.reject()
    dialog = editing.edit_keywords(target)
    assert dialog.keywords() == document.keywords(target)
    dialog.editor.appendPlainText(f" {word}")  # a leading space: matches at a word start
    dialog.update_preview()
    assert "rerouting moves" in dialog.preview.text() and dialog.moves() >= 1
    dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).click()
    assert not dialog.isVisible()
    assert document.keywords(target)[-1] == f" {word}" and sentence in _texts(editing, target)
    assert sentence in _shown(editing, target)
    assert document.diff().keywords == {"thyroid": {"added": [f" {word}"], "removed": []}}
    editing.undo()  # the reroute
    assert sentence not in _texts(editing, target) and document.keywords(target)[-1] == f" {word}"
    editing.undo()  # the keywords
    assert document.keywords(target) == document.original_structure_set.structures[target].keywords
    assert not document.is_modified


def test_changes_dialog_shows_and_follows_the_edits(window, editing, study, qtbot):
    index = mentioned(study.draft)[0]
    document = editing.document
    original = _texts(editing, index)[0]
    _action(window, "Show changes").trigger()
    dialog = editing.diff_dialog
    assert dialog.isVisible() and "No changes" in dialog.text()
    editing.edit_text(SentenceRef(index, 0), "A corrected sentence.")
    editing.add_sentence("pleura", "Small right pleural effusion.")
    text = dialog.text()
    assert "1 changed, 1 added, 0 removed, 0 moved" in text
    assert original in text and "A corrected sentence." in text and "+ Small right pleural effusion." in text
    assert f"-{original}" in text and "+A corrected sentence." in text  # the unified diff
    editing.undo()
    editing.undo()
    assert "No changes" in dialog.text() and not document.is_modified
    dialog.close()


def test_drafting_again_asks_before_replacing_edits(window, editing, study, qtbot, monkeypatch):
    """A new draft would replace an edited report: Save / Discard / Cancel is asked, and Cancel
    keeps the edits (no draft starts)."""
    monkeypatch.setenv("CTRG_UNSAVED", "ask")
    index = mentioned(study.draft)[0]
    editing.edit_text(SentenceRef(index, 0), "A corrected sentence.")
    asked = []

    def answer(box):
        asked.append(box.text())
        QtCore.QTimer.singleShot(0, box.button(QtWidgets.QMessageBox.StandardButton.Cancel).click)

    editing.prompt.asked.connect(answer)
    window.drafting.model = window.drafting.model or "demo"
    assert window.drafting.draft_report() is False
    qtbot.waitUntil(lambda: editing.prompt.box is None, timeout=5000)
    assert len(asked) == 1 and "A new draft replaces the edited report" in asked[0]
    assert not window.drafting.busy
    assert _texts(editing, index)[0] == "A corrected sentence."
