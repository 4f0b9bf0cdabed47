"""The report dock: the draft's sentences grouped by structure, with where they came from.

Clicking a sentence (or Enter on it) emits ``sentence_chosen(SentenceRef)``; a structure row
emits ``structure_chosen(index)``. Moving the keyboard cursor only moves the selection: the
views jump on a deliberate choice, never because the list got the focus back (after a dialog). ``select_structure(i)`` selects every sentence
of a structure without emitting (used when a patch is clicked in a view). ``set_rows`` shows an
edited report (keeping the selection, by sentence id, and the scroll position); the editing
layer (:mod:`ctrg_desktop.app.editing`) adds its tool bar through ``tool_area``.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.drafting.report_model import ReportModel, SentenceRef, StructureRow

Qt = QtCore.Qt


class WrapDelegate(QtWidgets.QStyledItemDelegate):
    """Rows as tall as their word-wrapped text at the view's current width."""

    WRAP = int(Qt.TextFlag.TextWordWrap)
    DISPLAY, FONT, DECORATION = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.DecorationRole

    def __init__(self, view):
        super().__init__(view)
        self.view = view
        self.width = 300  #: the text column's width, kept by the view (``ReportTree.resizeEvent``)
        self._metrics: dict = {}

    def sizeHint(self, option, index):  # noqa: N802
        depth = 2 if index.parent().isValid() else 1
        icon = 20 if index.data(self.DECORATION) is not None else 0
        width = max(60, self.width - depth * self.view.indentation() - icon - 12)
        font = index.data(self.FONT) or option.font
        key = font.key()
        metrics = self._metrics.get(key)
        if metrics is None:
            metrics = self._metrics[key] = QtGui.QFontMetrics(font)
        text = index.data(self.DISPLAY) or ""
        height = metrics.boundingRect(0, 0, width, 100000, self.WRAP, text).height()
        return QtCore.QSize(width, max(metrics.height(), height) + 8)


class ReportTree(QtWidgets.QTreeView):
    """A tree view that re-lays its rows out when its width changes (wrapped text)."""

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        delegate = self.itemDelegate()
        if isinstance(delegate, WrapDelegate) and delegate.width != self.viewport().width():
            delegate.width = self.viewport().width()
            self.doItemsLayout()


class ReportPanel(QtWidgets.QWidget):
    sentence_chosen = QtCore.Signal(object)
    structure_chosen = QtCore.Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = ReportModel(self)
        self.header = QtWidgets.QLabel("No draft yet: Report > Draft report (Ctrl+G), or File > Open draft...")
        self.header.setWordWrap(True)
        self.view = ReportTree()
        self.view.setModel(self.model)
        self.view.setItemDelegate(WrapDelegate(self.view))
        self.view.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.view.setHeaderHidden(True)
        self.view.setWordWrap(True)
        self.view.setUniformRowHeights(False)
        self.view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setExpandsOnDoubleClick(False)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setStyleSheet("QTreeView::item { padding: 3px; }"
                                "QTreeView::item:selected { background: #ffd54f; color: black; }"
                                "QTreeView { border: 2px solid transparent; }"
                                "QTreeView:focus { border: 2px solid #1e88e5; }")  # clearly focused
        self.notes = QtWidgets.QLabel()
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #b26a00;")
        self.notes.hide()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        self.tool_area = QtWidgets.QVBoxLayout()  #: the editing tool bar goes here
        self.tool_area.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.tool_area)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.notes)
        self.view.clicked.connect(self._emit_for)
        self.view.activated.connect(self._on_activated)

    # --- content --------------------------------------------------------------------------
    def set_draft(self, draft, header: str = "") -> None:
        self.model.set_draft(draft)
        self.view.expandAll()
        self.header.setText(header)
        self.set_notes(list(getattr(draft, "warnings", []) or []) if draft is not None else [])

    def set_notes(self, notes: list[str]) -> None:
        """Warnings under the report (hidden when there are none)."""
        self.notes.setText("\n".join(f"! {n}" for n in notes))
        self.notes.setVisible(bool(notes))

    def set_rows(self, rows: list[StructureRow]) -> None:
        """Show ``rows`` (an edited report): in place when only texts changed, else rebuilt with
        the same sentences selected (by id), all structures expanded and the scroll kept."""
        selected = [self.model.sentence_id(r) for r in self.selected_refs()]
        current = self.model.ref(self.view.currentIndex())
        current_id = self.model.sentence_id(current) if current is not None else ""
        current_structure = self.model.structure_of(self.view.currentIndex())
        scroll = self.view.verticalScrollBar().value()
        if self.model.update_rows(rows):
            return
        self.view.expandAll()
        refs = [r for r in (self.model.ref_of(sid) for sid in selected if sid) if r is not None]
        current = self.model.ref_of(current_id) if current_id else None
        if refs or current is not None:
            first = current if current is not None else refs[0]
            self._select([self.model.index_of(r) for r in ([first] + [r for r in refs if r != first])],
                         QtCore.QModelIndex(), scroll=False)
        elif current_structure is not None and current_structure < len(self.model.rows):
            self.view.setCurrentIndex(self.model.structure_index(current_structure))
        self.view.verticalScrollBar().setValue(scroll)

    def clear(self) -> None:
        self.set_draft(None, "No draft yet: Report > Draft report (Ctrl+G), or File > Open draft...")

    # --- selection ------------------------------------------------------------------------
    def selected_refs(self) -> list[SentenceRef]:
        refs = [self.model.ref(i) for i in self.view.selectionModel().selectedIndexes()]
        return sorted(r for r in refs if r is not None)

    def select_structure(self, structure: int, scroll: bool = True) -> None:
        """Select all sentence rows of ``structure`` and scroll to them (no signal)."""
        refs = self.model.refs(structure)
        self._select([self.model.index_of(r) for r in refs], self.model.structure_index(structure), scroll)

    def select_sentence(self, ref: SentenceRef, scroll: bool = True) -> None:
        """Make ``ref`` the one selected sentence (no signal)."""
        index = self.model.index_of(ref)
        self._select([index], self.model.structure_index(ref.structure), scroll)

    def _select(self, indexes, scroll_to, scroll: bool = True) -> None:
        selection = QtCore.QItemSelection()
        for index in indexes:
            if index.isValid():
                selection.select(index, index)
        model = self.view.selectionModel()
        flags = QtCore.QItemSelectionModel.SelectionFlag
        model.select(selection, flags.ClearAndSelect)
        if indexes and indexes[0].isValid():
            model.setCurrentIndex(indexes[0], flags.NoUpdate)
        if not scroll:
            return
        hint = QtWidgets.QAbstractItemView.ScrollHint
        if scroll_to.isValid():  # the structure's heading on top, the selected sentence in view
            self.view.scrollTo(scroll_to, hint.PositionAtTop)
        if indexes and indexes[0].isValid():
            self.view.scrollTo(indexes[0], hint.EnsureVisible)

    def _on_activated(self, index) -> None:
        """Enter (or the platform's activation) on a row: chosen, as by a click; a double click
        opens the editor instead (the click before it already chose the row)."""
        if QtWidgets.QApplication.mouseButtons() == Qt.MouseButton.NoButton and self.view.state() != self.view.State.EditingState:
            self._emit_for(index)

    def _emit_for(self, index) -> None:
        ref = self.model.ref(index)
        if ref is not None:
            self.sentence_chosen.emit(ref)
        elif index.isValid():
            self.structure_chosen.emit(self.model.structure_of(index))
