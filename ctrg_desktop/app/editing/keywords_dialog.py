"""The keywords of one structure: edit them, see how many sentences would move, reroute on OK.

One keyword a line. Spaces are shown as dots because they matter: ``" rib"`` matches words that
start with "rib" (not "fibrosis"), ``" bronchi "`` the whole word only. On OK the structure's
keywords are replaced (one undo step) and, when "Reroute" is ticked, every sentence of the report
is routed again with the edited keywords (a second undo step).
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.errors import CtrgError


def parse_keywords(text: str) -> list[str]:
    """One keyword per line; blank lines dropped, spaces kept, duplicates once."""
    out = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.strip() and line not in out:
            out.append(line)
    return out


class KeywordsDialog(QtWidgets.QDialog):
    """Keywords of structure ``index`` of ``controller.document``."""

    def __init__(self, controller, index: int, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.document = controller.document
        self.index = index
        name = self.document.structures[index].name
        self.setWindowTitle(f"Keywords of {name}")
        self.editor = QtWidgets.QPlainTextEdit()
        option = self.editor.document().defaultTextOption()
        option.setFlags(option.flags() | QtGui.QTextOption.Flag.ShowTabsAndSpaces)
        self.editor.document().setDefaultTextOption(option)
        self.editor.setPlainText("\n".join(self.document.keywords(index)))
        self.editor.setMinimumSize(320, 220)
        hint = QtWidgets.QLabel("One keyword a line; a sentence containing one belongs to this structure. "
                                "Spaces (shown as dots) count: \u201c rib\u201d matches words starting with "
                                "\u201crib\u201d.")
        hint.setWordWrap(True)
        self.reroute_box = QtWidgets.QCheckBox("Reroute the report's sentences with the edited keywords")
        self.reroute_box.setChecked(True)
        self.preview = QtWidgets.QLabel()
        self.preview.setWordWrap(True)
        self.reset_button = QtWidgets.QPushButton("Model's keywords")
        self.reset_button.setToolTip("The keywords this structure had when the draft was routed")
        self.reset_button.clicked.connect(self._reset)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.reset_button, QtWidgets.QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.reroute_box)
        layout.addWidget(self.preview)
        layout.addWidget(buttons)
        self._timer = QtCore.QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.update_preview)
        self.editor.textChanged.connect(self._timer.start)
        self.reroute_box.toggled.connect(self.update_preview)
        self.update_preview()

    def keywords(self) -> list[str]:
        return parse_keywords(self.editor.toPlainText())

    def set_keywords(self, keywords) -> None:
        self.editor.setPlainText("\n".join(keywords))
        self.update_preview()

    def _reset(self) -> None:
        self.set_keywords(self.document.original_structure_set.structures[self.index].keywords)

    def moves(self) -> int:
        """How many sentences OK would move (on a copy of the document); -1 for unusable keywords."""
        from ctrg_desktop.reports.document import ReportDocument

        trial = ReportDocument.from_json(self.document.to_json())
        try:
            trial.set_keywords(self.index, self.keywords())
        except CtrgError:
            return -1
        return trial.reroute() if self.reroute_box.isChecked() else 0

    def update_preview(self) -> None:
        keywords = self.keywords()
        moves = self.moves()
        ok = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(moves >= 0)
        if moves < 0:
            self.preview.setText("These keywords cannot be used.")
        elif not self.reroute_box.isChecked():
            self.preview.setText(f"{len(keywords)} keyword(s); sentences stay where they are.")
        else:
            self.preview.setText(f"{len(keywords)} keyword(s); rerouting moves {moves} sentence(s)."
                                 if moves else f"{len(keywords)} keyword(s); no sentence changes structure.")

    def accept(self) -> None:
        if self.controller.document is not self.document:  # another report was opened meanwhile
            self.reject()
            return
        moved = self.controller.set_keywords(self.index, self.keywords(), reroute=self.reroute_box.isChecked())
        if moved >= 0:
            super().accept()
