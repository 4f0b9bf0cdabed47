"""Help > Keyboard and mouse: the shortcuts, listed from the same table the window binds."""

from __future__ import annotations

from PySide6 import QtWidgets

MOUSE = [
    ("Wheel", "Next / previous slice"),
    ("Ctrl+wheel, Ctrl+right drag", "Zoom"),
    ("Left click / drag", "Move the linked crosshair (Navigate tool), window/level or measure"),
    ("Shift+left drag, right drag", "Window / level"),
    ("Middle drag", "Pan"),
    ("Double click", "Maximise the view / back to the layout"),
    ("3D view: left / middle / right drag", "Rotate / pan / zoom"),
]
KEYS_IN_VIEW = [
    ("Up, Right / Down, Left", "Next / previous slice"),
    ("Page Up / Page Down", "10 slices forward / back"),
    ("Home / End", "First / last slice"),
    ("R", "Reset the view"),
]


class HelpDialog(QtWidgets.QDialog):
    """A table of shortcuts: ``actions`` are the window's QActions with shortcuts."""

    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse")
        rows = [(a.shortcut().toString(), a.text().replace("&", "").rstrip(".")) for a in actions
                if not a.shortcut().isEmpty()]
        rows += KEYS_IN_VIEW + MOUSE
        self.table = QtWidgets.QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys / mouse", "Action"])
        for r, (key, text) in enumerate(rows):
            self.table.setItem(r, 0, QtWidgets.QTableWidgetItem(key))
            self.table.setItem(r, 1, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def shortcuts(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]
