"""One similar case in the dock: its key-slice thumbnail, name, source and distance, label chips,
its report one sentence a row (select one to insert it), and the Diff / Insert sentence buttons."""

from __future__ import annotations

import html

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.similar.chips import ChipRow, label_chips
from ctrg_desktop.reports.parser import split_sentences

Qt = QtCore.Qt
THUMB_SIZE = 128  #: the 64 x 64 thumbnail is shown at this many pixels a side (smoothly scaled)


def thumbnail_pixmap(thumbnail, size: int = THUMB_SIZE) -> QtGui.QPixmap:
    """A (H, W) uint8 grey image as a ``size`` x ``size`` pixmap (smooth scaling)."""
    a = np.ascontiguousarray(np.asarray(thumbnail, dtype=np.uint8))
    if a.ndim != 2:
        raise ValueError(f"a thumbnail is a 2D image, got shape {a.shape}")
    image = QtGui.QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QtGui.QImage.Format.Format_Grayscale8).copy()
    return QtGui.QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation)


class CaseCard(QtWidgets.QFrame):
    """Signals: ``insert_requested(text)`` (Insert sentence), ``diff_requested(neighbour)`` (Diff)."""

    insert_requested = QtCore.Signal(str)
    diff_requested = QtCore.Signal(object)

    def __init__(self, rank: int, neighbour, current_statuses, parent=None):
        super().__init__(parent)
        self.rank, self.neighbour = rank, neighbour
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setObjectName("similar-case")
        self.thumbnail = QtWidgets.QLabel()
        self.thumbnail.setPixmap(thumbnail_pixmap(neighbour.thumbnail))
        self.thumbnail.setFixedSize(THUMB_SIZE, THUMB_SIZE)
        self.thumbnail.setToolTip("Key slice of the case (axial, where its model looked for its main finding)")
        source = {"train": "training study", "valid": "validation study",
                  "correction": "accepted correction"}.get(neighbour.source, neighbour.source)
        self.title = QtWidgets.QLabel(f"<b>{rank}.</b> {html.escape(neighbour.name)}<br>"
                                      f"<span style='color:#666'>{html.escape(source)} \u00b7 distance "
                                      f"{neighbour.distance:.3f}</span>")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chip_row = ChipRow()
        self.sentences = QtWidgets.QListWidget()
        self.sentences.setWordWrap(True)
        self.sentences.setAlternatingRowColors(True)
        self.sentences.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.sentences.setVerticalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.sentences.setToolTip("The case's report: select a sentence, then Insert sentence")
        self.sentences.addItems(split_sentences(neighbour.report) or [neighbour.report])
        self.sentences.setMinimumHeight(110)
        self.diff_button = QtWidgets.QPushButton("Diff")
        self.diff_button.setToolTip("Show this case's report against the current report")
        self.insert_button = QtWidgets.QPushButton("Insert sentence")
        self.insert_button.setToolTip("Add the selected sentence to the current report (Edit > Undo removes it)")
        self.insert_button.setEnabled(False)
        self.can_insert = False
        self.sentences.itemSelectionChanged.connect(self._update_buttons)
        self.sentences.itemDoubleClicked.connect(lambda _item: self._insert())
        self.diff_button.clicked.connect(lambda: self.diff_requested.emit(self.neighbour))
        self.insert_button.clicked.connect(self._insert)

        side = QtWidgets.QVBoxLayout()
        side.addWidget(self.title)
        side.addWidget(self.chip_row)
        side.addStretch(1)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.thumbnail, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(side, 1)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.diff_button)
        buttons.addWidget(self.insert_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.sentences, 1)
        layout.addLayout(buttons)
        self.set_current(current_statuses)

    def set_current(self, statuses) -> None:
        """Colour the chips against the current report's (18,) label statuses."""
        self.chip_row.set_chips(label_chips(statuses, self.neighbour.statuses))

    def set_can_insert(self, on: bool) -> None:
        """Whether there is a report to insert into (a draft or a report open for editing)."""
        self.can_insert = bool(on)
        self._update_buttons()

    def selected_sentence(self) -> str:
        items = self.sentences.selectedItems()
        return items[0].text() if items else ""

    def select_sentence(self, row: int) -> None:
        self.sentences.setCurrentRow(row)

    def _update_buttons(self) -> None:
        self.insert_button.setEnabled(self.can_insert and bool(self.selected_sentence()))

    def _insert(self) -> None:
        text = self.selected_sentence()
        if text and self.can_insert:
            self.insert_requested.emit(text)
