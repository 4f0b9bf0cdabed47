"""Editing sentences in the Report dock: inline edit, add, delete, reorder, move to another structure.

* Double click, F2 or Enter on a sentence edits it in place (a wrapped text box; Enter keeps
  the text, Shift+Enter too, Esc cancels). Clearing the text deletes the sentence; editing the
  grey default sentence of an unmentioned structure adds a sentence there.
* The tool bar above the report and the context menu: add a sentence, delete, move up/down
  (Alt+Up / Alt+Down), move to another structure, the structure's keywords, the changes
  against the draft. Sentences also move by drag and drop (onto a structure: at its end; onto a
  sentence: before it).

Every change goes through the editing controller (one undo step each).
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.drafting.report_model import SentenceRef
from ctrg_desktop.app.drafting.report_panel import WrapDelegate

Qt = QtCore.Qt
NEW_SENTENCE = "New finding."


class SentenceEdit(QtWidgets.QPlainTextEdit):
    """The inline editor: wraps like the row; Enter commits (handled by the delegate)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.Box)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)


class SentenceDelegate(WrapDelegate):
    """Wrapped rows (as :class:`WrapDelegate`) with a multi-line inline editor."""

    def __init__(self, view):
        super().__init__(view)
        self.last_editor: SentenceEdit | None = None

    def createEditor(self, parent, option, index):  # noqa: N802
        editor = SentenceEdit(parent)
        self.last_editor = editor
        return editor

    def setEditorData(self, editor, index):  # noqa: N802
        editor.setPlainText(index.data(Qt.ItemDataRole.EditRole) or "")
        editor.selectAll()

    def setModelData(self, editor, model, index):  # noqa: N802
        model.setData(index, editor.toPlainText(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor, option, index):  # noqa: N802
        rect = QtCore.QRect(option.rect)
        rect.setHeight(max(rect.height(), 3 * editor.fontMetrics().height() + 10))
        editor.setGeometry(rect)

    def eventFilter(self, editor, event):  # noqa: N802
        if (isinstance(editor, SentenceEdit) and event.type() == QtCore.QEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)):
            self.commitData.emit(editor)
            self.closeEditor.emit(editor, QtWidgets.QAbstractItemDelegate.EndEditHint.NoHint)
            return True
        return super().eventFilter(editor, event)


class SentenceEditor(QtCore.QObject):
    """The report panel's editing tools, acting on ``controller`` (an EditingController)."""

    def __init__(self, panel, controller):
        super().__init__(panel)
        self.panel = panel
        self.controller = controller
        view = panel.view
        self.delegate = SentenceDelegate(view)
        self.delegate.width = view.itemDelegate().width
        view.setItemDelegate(self.delegate)
        view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.DoubleClicked
                             | QtWidgets.QAbstractItemView.EditTrigger.EditKeyPressed)
        view.setDragEnabled(True)
        view.setAcceptDrops(True)
        view.setDropIndicatorShown(True)
        view.setDragDropMode(QtWidgets.QAbstractItemView.DragDropMode.DragDrop)
        view.setDefaultDropAction(Qt.DropAction.MoveAction)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._context_menu)
        self.toolbar = self._build_toolbar()
        panel.tool_area.insertWidget(0, self.toolbar)
        self._fresh_id = ""  # a just added placeholder sentence: Esc removes it again
        self.delegate.closeEditor.connect(self._editor_closed)
        self.set_enabled(False)

    # --- tool bar and keys ----------------------------------------------------------------
    def _build_toolbar(self) -> QtWidgets.QToolBar:
        bar = QtWidgets.QToolBar("Report editing")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.setIconSize(QtCore.QSize(14, 14))
        view = self.panel.view

        def local(text, slot, shortcut=None, tip=""):
            act = QtGui.QAction(text, self.panel)
            if shortcut:
                act.setShortcut(QtGui.QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # not while the editor is open
                view.addAction(act)
            act.setToolTip(f"{tip or text} ({shortcut})" if shortcut else (tip or text))
            act.triggered.connect(slot)
            bar.addAction(act)
            return act

        self.add_action = local("Add", self.add_to_current, "Ctrl+Shift+N",
                                "Add a sentence to the chosen structure")
        self.delete_action = local("Delete", self.delete_selected, "Del", "Delete the selected sentences")
        self.up_action = local("\u2191", lambda: self.move_current(-1), "Alt+Up", "Move the sentence up")
        self.down_action = local("\u2193", lambda: self.move_current(1), "Alt+Down", "Move the sentence down")
        bar.addSeparator()
        self.keywords_action = local("Keywords\u2026", self.keywords_of_current, tip="Edit the structure's keywords")
        self.diff_action = local("Changes\u2026", self.controller.show_diff,
                                 tip="The edited report against the model's draft")
        self.state_label = QtWidgets.QLabel()  # "As drafted" / "Edited, not accepted", under the tool bar
        self.state_label.setStyleSheet("color: #555555;")
        self.panel.tool_area.addWidget(self.state_label)
        return bar

    def set_enabled(self, on: bool) -> None:
        for act in (self.add_action, self.delete_action, self.up_action, self.down_action,
                    self.keywords_action, self.diff_action):
            act.setEnabled(on)
        if not on:
            self.state_label.setText("")

    def set_state(self, text: str) -> None:
        self.state_label.setText(text)

    # --- what is chosen -------------------------------------------------------------------
    def current_ref(self) -> SentenceRef | None:
        index = self.panel.view.currentIndex()
        ref = self.panel.model.ref(index)
        if ref is None:
            refs = self.panel.selected_refs()
            ref = refs[0] if refs else None
        return ref

    def current_structure(self) -> int | None:
        return self.panel.model.structure_of(self.panel.view.currentIndex())

    # --- actions --------------------------------------------------------------------------
    def edit(self, ref: SentenceRef) -> SentenceEdit | None:
        """Open the inline editor on ``ref``; returns it."""
        index = self.panel.model.index_of(ref)
        if not index.isValid():
            return None
        view = self.panel.view
        view.setCurrentIndex(index)
        view.scrollTo(index)
        view.edit(index)
        return self.delegate.last_editor

    def add_to_current(self) -> None:
        structure = self.current_structure()
        if structure is None:
            structure = self.controller.document.structure_set.others_index if self.controller.document else None
        if structure is not None:
            self.add_sentence(structure)

    def add_sentence(self, structure: int, position: int | None = None) -> SentenceEdit | None:
        """Add a placeholder sentence to ``structure`` and edit it (Esc takes it back)."""
        sid = self.controller.add_sentence(structure, NEW_SENTENCE, position)
        if not sid:
            return None
        self._fresh_id = sid
        ref = self.panel.model.ref_of(sid)
        return self.edit(ref) if ref is not None else None

    def _editor_closed(self, editor, hint) -> None:
        sid, self._fresh_id = self._fresh_id, ""
        document = self.controller.document
        if not sid or document is None:
            return
        try:
            unchanged = document.sentence(sid).text == NEW_SENTENCE
        except Exception:  # noqa: BLE001 -- the sentence is gone already
            return
        if unchanged and hint == QtWidgets.QAbstractItemDelegate.EndEditHint.RevertModelCache:
            self.controller.undo()

    def delete_selected(self) -> None:
        refs = self.panel.selected_refs() or ([r] if (r := self.current_ref()) else [])
        self.controller.delete_sentences(refs)

    def move_current(self, delta: int) -> None:
        ref = self.current_ref()
        if ref is not None:
            self.controller.move_by(ref, delta)

    def keywords_of_current(self) -> None:
        structure = self.current_structure()
        self.controller.edit_keywords(0 if structure is None else structure)

    # --- context menu ---------------------------------------------------------------------
    def context_menu(self, index: QtCore.QModelIndex) -> QtWidgets.QMenu | None:
        """The menu for the row at ``index`` (a sentence or a structure); None elsewhere."""
        model = self.panel.model
        if not index.isValid() or self.controller.document is None:
            return None
        ref = model.ref(index)
        structure = model.structure_of(index)
        name = model.rows[structure].name
        menu = QtWidgets.QMenu(self.panel)
        if ref is not None and model.sentence_id(ref):
            menu.addAction("&Edit sentence", lambda: self.edit(ref))
            menu.addAction("&Delete sentence", lambda: self.controller.delete_sentences([ref]))
            up = menu.addAction("Move &up", lambda: self.controller.move_by(ref, -1))
            down = menu.addAction("Move do&wn", lambda: self.controller.move_by(ref, 1))
            up.setEnabled(ref.sentence > 0)
            down.setEnabled(ref.sentence < len(model.rows[structure].sentences) - 1)
            move = menu.addMenu("&Move to structure")
            for row in model.rows:
                if row.index != structure:
                    move.addAction(row.name, lambda s=row.index: self.controller.move_to_structure([ref], s))
            menu.addSeparator()
        menu.addAction(f"&Add sentence to {name}", lambda: self.add_sentence(structure))
        menu.addAction(f"&Keywords of {name}...", lambda: self.controller.edit_keywords(structure))
        menu.addAction("&Reroute all sentences with the keywords", self.controller.reroute)
        return menu

    def _context_menu(self, pos: QtCore.QPoint) -> None:
        view = self.panel.view
        menu = self.context_menu(view.indexAt(pos))
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(view.viewport().mapToGlobal(pos))
            self.menu = menu
