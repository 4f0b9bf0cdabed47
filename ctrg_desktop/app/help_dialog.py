"""Help > Keyboard and mouse: the shortcuts, listed from the same table the window binds."""

from __future__ import annotations

from PySide6 import QtWidgets

from ctrg_desktop.app.interaction.bindings import DEFAULT_DRAGS, TOOL_DRAGS, help_rows

MOUSE = [
    ("Wheel", "Next / previous slice"),
    ("Ctrl+wheel", "Zoom"),
    ("Double click", "Maximise the view / back to the layout (the crosshair stays)"),
    ("3D view: left / middle / right drag", "Rotate / pan / zoom"),
]
KEYS_IN_VIEW = [
    ("Up, Right / Down, Left", "Next / previous slice of the view under the mouse"),
    ("Page Up / Page Down", "10 slices forward / back (view under the mouse)"),
    ("Home / End", "First / last slice (view under the mouse)"),
    ("R", "Reset the view"),
    ("Esc", "Stop cine playback (also: a wheel scroll or a slice key)"),
]
REPORT = [
    ("Click a sentence", "Select it, show its structure and go to its best patch inside the study"),
    ("Up / Down in the focused Report list", "Move the selection (the views stay)"),
    ("Enter in the focused Report list", "Go to the selected sentence's best patch"),
    ("Double click, F2", "Edit the sentence"),
]


class HelpDialog(QtWidgets.QDialog):
    """A table of shortcuts: ``actions`` are the window's QActions with shortcuts, ``drags`` the
    slice views' mouse drags (:mod:`~ctrg_desktop.app.interaction.bindings`)."""

    def __init__(self, actions, parent=None, drags: dict | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse")
        rows = [(a.shortcut().toString(), a.text().replace("&", "").rstrip(".")) for a in actions
                if not a.shortcut().isEmpty()]
        rows += (KEYS_IN_VIEW + MOUSE[:2] + help_rows(DEFAULT_DRAGS if drags is None else drags) + TOOL_DRAGS
                 + [("View > Mouse buttons...", "Set what the left, middle and right drags do")] + MOUSE[2:]
                 + REPORT)
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
