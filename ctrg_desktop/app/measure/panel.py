"""The Measurements dock: one row per measurement (label, kind, view and slice, value). Selecting a
row moves the views to its slice; double click or F2 on the label renames it; Delete (the key
or the button) deletes it; Undo / Redo (Ctrl+Z / Ctrl+Shift+Z here) step through the adds, edits,
renames and deletes; Save / Open write and read a measurements file."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.measurements import KINDS

Qt = QtCore.Qt
COLUMNS = ("Label", "Kind", "Slice", "Value")
ID_ROLE = Qt.ItemDataRole.UserRole
HINT = ("Measure (M): drag a line. Ellipse (O): drag across a region for its HU statistics. "
        "Drag a handle (dot) to edit; Delete deletes the selected one.")


class MeasurementPanel(QtWidgets.QWidget):
    """Widgets call the controller; :meth:`refresh` rebuilds the table from its set."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.DoubleClicked
                                   | QtWidgets.QAbstractItemView.EditTrigger.EditKeyPressed)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.delete_button = QtWidgets.QPushButton("Delete")
        self.undo_button = QtWidgets.QPushButton("Undo")
        self.redo_button = QtWidgets.QPushButton("Redo")
        self.save_button = QtWidgets.QPushButton("Save...")
        self.open_button = QtWidgets.QPushButton("Open...")
        self.note = QtWidgets.QLabel(HINT)
        self.note.setWordWrap(True)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.delete_button, self.undo_button, self.redo_button, self.save_button, self.open_button):
            buttons.addWidget(button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self.delete_shortcut = QtGui.QShortcut(QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Delete), self.table)
        self.delete_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.delete_shortcut.activated.connect(lambda: controller.delete())
        self.delete_button.clicked.connect(lambda: controller.delete())
        self.undo_button.clicked.connect(lambda: controller.undo())
        self.redo_button.clicked.connect(lambda: controller.redo())
        for keys, slot in ((("Ctrl+Z",), controller.undo), (("Ctrl+Shift+Z", "Ctrl+Y"), controller.redo)):
            act = QtGui.QAction(self)
            act.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(lambda _=False, fn=slot: fn())
            self.addAction(act)
        self.save_button.clicked.connect(lambda: self._files("choose"))
        self.open_button.clicked.connect(lambda: self._files("choose_to_open"))
        self.table.itemChanged.connect(self._item_changed)
        self.table.currentCellChanged.connect(lambda row, _c, old, _oc: row != old and self._row_chosen(row))
        self._filling = False
        self.refresh()

    def _files(self, what: str) -> None:
        files = getattr(self.controller, "files", None)
        if files is not None:
            getattr(files, what)()

    # --- model -> view --------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the rows (the selected measurement stays current)."""
        items = self.controller.measurements.items
        self._filling = True
        try:
            self.table.setRowCount(len(items))
            for row, m in enumerate(items):
                cells = (m.label, KINDS[m.kind], m.where(), m.summary())
                for column, text in enumerate(cells):
                    item = QtWidgets.QTableWidgetItem(text)
                    item.setData(ID_ROLE, m.id)
                    item.setToolTip(f"{m.label}: {KINDS[m.kind]} on {m.where().lower()}, {m.summary()}")
                    if column:
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(row, column, item)
            self._select_row(self.controller.selected)
        finally:
            self._filling = False
        self.delete_button.setEnabled(bool(items))
        history = self.controller.history
        for button, able, text in ((self.undo_button, history.can_undo, history.undo_text),
                                   (self.redo_button, history.can_redo, history.redo_text)):
            button.setEnabled(able)
            button.setToolTip(text.capitalize() if able else "")
        self.save_button.setEnabled(bool(items))
        self.open_button.setEnabled(self.controller.volume is not None)

    def select(self, mid: str | None) -> None:
        """Make ``mid``'s row current (no jump: the controller asked)."""
        self._filling = True
        try:
            self._select_row(mid)
        finally:
            self._filling = False

    def _select_row(self, mid) -> None:
        row = self.row_of(mid)
        if row < 0:
            self.table.clearSelection()
            self.table.setCurrentCell(-1, -1)
        else:
            self.table.setCurrentCell(row, 0)
            self.table.selectRow(row)

    def row_of(self, mid) -> int:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(ID_ROLE) == mid:
                return row
        return -1

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (tests, screenshots)."""
        return [tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
                for r in range(self.table.rowCount())]

    # --- view -> model --------------------------------------------------------------------
    def _row_chosen(self, row: int) -> None:
        if self._filling or row < 0:
            return
        self.controller.select(self.table.item(row, 0).data(ID_ROLE), jump=True)

    def _item_changed(self, item) -> None:
        if self._filling or item.column() != 0:
            return
        mid, text = item.data(ID_ROLE), item.text()
        if mid in self.controller.measurements and text != self.controller.measurements.get(mid).label:
            # renamed after this signal: the rename rebuilds the rows, this item among them
            QtCore.QTimer.singleShot(0, lambda: self.controller.rename(mid, text))
