"""Study/series browser: the series of a DICOM folder; double click (or Open) loads one."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets


class SeriesBrowser(QtWidgets.QWidget):
    """``series_chosen(folder, series_uid)`` when the user opens a series."""

    series_chosen = QtCore.Signal(object, str)
    COLUMNS = ("Description", "Modality", "Slices", "Series UID")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.folder: Path | None = None
        self.series: list = []
        self.label = QtWidgets.QLabel("Open a DICOM folder to list its series.")
        self.label.setWordWrap(True)
        self.table = QtWidgets.QTreeWidget()
        self.table.setHeaderLabels(list(self.COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.itemDoubleClicked.connect(lambda *_: self.open_selected())
        self.open_button = QtWidgets.QPushButton("Open series")
        self.open_button.clicked.connect(self.open_selected)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.open_button)

    def set_series(self, folder, series: list, current_uid: str | None = None) -> None:
        """Show ``series`` (``SeriesSummary`` objects from ``list_series``) found in ``folder``."""
        self.folder, self.series = Path(folder), list(series)
        self.label.setText(f"{Path(folder).name}: {len(series)} series")
        self.table.clear()
        for s in self.series:
            item = QtWidgets.QTreeWidgetItem([s.description or "(no description)", s.modality,
                                              str(s.slice_count), s.series_instance_uid])
            self.table.addTopLevelItem(item)
            if s.series_instance_uid == current_uid:
                self.table.setCurrentItem(item)
        if self.table.currentItem() is None and self.series:
            self.table.setCurrentItem(self.table.topLevelItem(0))
        for n in range(len(self.COLUMNS)):
            self.table.resizeColumnToContents(n)

    def open_selected(self) -> None:
        item = self.table.currentItem()
        if item is not None and self.folder is not None:
            self.series_chosen.emit(self.folder, item.text(3))
