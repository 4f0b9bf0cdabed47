"""Study/series browser: the series of the opened folder, zip or file, one table row each
(patient, study date and description, series, modality, images, matrix, spacing, thickness,
size); double click (or Open series) loads one.

The rows come from :func:`ctrg_desktop.io.series_catalog.catalog` (headers only), run on a
background thread so a large folder never blocks the window; a newer request cancels an older
one. The patient's name is PHI: it is shown here and never logged.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.series_catalog import SeriesEntry

Qt = QtCore.Qt
#: (header, tooltip) of each column: what tells series apart first (the dock is narrow), then
#: the patient and study they belong to
COLUMNS = (("#", "Series number"), ("Series", "Series description"), ("Modality", "Modality"),
           ("Images", "Number of images (frames)"), ("Matrix", "Columns x rows of the images"),
           ("Spacing (mm)", "Pixel spacing (column x row) and the step between slice positions"),
           ("Thickness (mm)", "Slice thickness"), ("Size (MB)", "Size of the series' files, megabytes"),
           ("Patient", "Patient name"), ("ID", "Patient ID"), ("Date", "Study date and time"),
           ("Study", "Study description"))
COLUMN = {name: n for n, (name, _) in enumerate(COLUMNS)}
_NUMERIC = {"#", "Images", "Spacing (mm)", "Thickness (mm)", "Size (MB)"}


def row_texts(entry: SeriesEntry) -> list[str]:
    """The table cells of one series, in :data:`COLUMNS` order."""
    s = entry.summary
    return ["" if s.series_number is None else str(s.series_number), s.description or "(no description)",
            s.modality, str(s.slice_count), entry.matrix_text(), entry.spacing_text(),
            entry.thickness_text(), entry.size_text(), entry.patient_text(), entry.patient_id,
            entry.date_text(), entry.study_description]


def study_line(entries: list[SeriesEntry]) -> str:
    """``Patient (ID), date, study description`` when every series belongs to one study, else ''."""
    studies = {(e.patient_name, e.patient_id, e.study_date, e.study_time, e.study_description,
                e.summary.study_instance_uid) for e in entries}
    if len(studies) != 1:
        return ""
    e = entries[0]
    patient = e.patient_text() + (f" ({e.patient_id})" if e.patient_id else "")
    return ", ".join(v for v in (patient.strip(), e.date_text(), e.study_description) if v)


class _CatalogWorker(QtCore.QObject):
    """Runs ``catalog(path)`` on a daemon thread; ``done(token, path, entries, error)`` arrives on
    the GUI thread. Starting another scan cancels the one running."""

    done = QtCore.Signal(int, object, object, object)

    def __init__(self, parent=None, scan=None):
        super().__init__(parent)
        self._scan = scan
        self._cancel = threading.Event()
        self.token = 0
        self.thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, path: Path) -> int:
        self.cancel()
        self.token += 1
        self._cancel = threading.Event()
        self.thread = threading.Thread(target=self._work, args=(self.token, path, self._cancel),
                                       name="ctrg-series-catalog", daemon=True)
        self.thread.start()
        return self.token

    def cancel(self) -> None:
        self._cancel.set()

    def _work(self, token: int, path: Path, cancel: threading.Event) -> None:
        entries, error = None, None
        try:
            scan = self._scan
            if scan is None:
                from ctrg_desktop.io.series_catalog import catalog as scan
            entries = scan(path, cancel=cancel.is_set)
        except CtrgError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a damaged header must not leave the panel waiting
            error = f"{type(exc).__name__}: {exc}"
        if not cancel.is_set():
            try:
                self.done.emit(token, path, entries, error)
            except RuntimeError:  # the panel was deleted meanwhile (the window closed)
                pass


class SeriesBrowser(QtWidgets.QWidget):
    """``series_chosen(path, series_uid)`` when the user opens a series; ``entries_changed(list)``
    when the table has been filled from the headers."""

    series_chosen = QtCore.Signal(object, str)
    entries_changed = QtCore.Signal(object)
    COLUMNS = tuple(name for name, _ in COLUMNS)

    def __init__(self, parent=None, scan=None):
        super().__init__(parent)
        self.folder: Path | None = None          #: the folder, zip or file listed
        self.entries: list[SeriesEntry] = []
        self.current_uid: str | None = None      #: the series on screen (None: none of these)
        self.error: str | None = None            #: why the headers could not be listed
        self._stamp = None                       #: (path, mtime) of the listing
        self.worker = _CatalogWorker(self, scan)
        self.worker.done.connect(self._on_catalog)
        self.label = QtWidgets.QLabel("Open a DICOM folder, zip or image file to list its series.")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.study_label = QtWidgets.QLabel()  #: patient and study, when the series share one
        self.study_label.setTextFormat(Qt.TextFormat.PlainText)
        self.study_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.study_label.font()
        font.setBold(True)
        self.study_label.setFont(font)
        self.study_label.setVisible(False)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        for n, (_, tip) in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(n).setToolTip(tip)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setWordWrap(False)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.table.itemSelectionChanged.connect(self._sync_button)
        self.open_button = QtWidgets.QPushButton("Open series")
        self.open_button.setToolTip("Open the selected series (or double click its row)")
        self.open_button.clicked.connect(self.open_selected)
        self.open_button.setEnabled(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.study_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.open_button)

    # ------------------------------------------------------------------------------ listing
    def show_source(self, path, current_uid: str | None = None, series: list | None = None) -> None:
        """List the series of ``path``: at once from ``series`` (``SeriesSummary`` objects) when
        given, then from all the headers (background). The same, unchanged path is not read
        again: only the current series changes."""
        path = Path(path)
        self.current_uid = current_uid
        stamp = _stamp(path)
        if stamp is not None and stamp == self._stamp and self.error is None:
            self._fill()
            if not self.busy:
                self.entries_changed.emit(self.entries)
            return
        self.folder, self._stamp, self.error = path, stamp, None
        self.entries = [SeriesEntry(s) for s in series or ()]
        self._fill()
        self.label.setText(f"{path.name}: reading the series headers...")
        self.worker.start(path)

    def set_series(self, folder, series: list, current_uid: str | None = None) -> None:
        """Show ``series`` (``SeriesSummary`` objects from ``list_series``) found in ``folder``;
        the other columns are filled from the headers."""
        self.show_source(folder, current_uid, series=list(series))

    def clear(self) -> None:
        self.worker.cancel()
        self.folder, self.entries, self.current_uid, self.error, self._stamp = None, [], None, None, None
        self._fill()
        self.label.setText("Open a DICOM folder, zip or image file to list its series.")

    def shutdown(self) -> None:
        self.worker.cancel()

    @property
    def busy(self) -> bool:
        """True while the headers are being read."""
        return self.worker.busy

    def _on_catalog(self, token: int, path, entries, error) -> None:
        if token != self.worker.token:
            return  # a listing that was replaced by a newer one
        if error is not None:
            self.error = str(error)
            self.label.setText(f"{Path(path).name}: the series cannot be listed: {error}")
            return
        self.entries = list(entries)
        self._fill()
        self.entries_changed.emit(self.entries)

    def _fill(self) -> None:
        bold = QtGui.QFont(self.table.font())
        bold.setBold(True)
        with QtCore.QSignalBlocker(self.table):
            self.table.clearContents()
            self.table.setRowCount(len(self.entries))
            current_row = None
            for row, entry in enumerate(self.entries):
                current = self._is_current(entry)
                if current:
                    current_row = row
                for column, value in enumerate(row_texts(entry)):
                    item = QtWidgets.QTableWidgetItem(value)
                    item.setData(Qt.ItemDataRole.UserRole, entry.series_instance_uid)
                    if COLUMNS[column][0] in _NUMERIC:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if current:
                        item.setFont(bold)
                        item.setToolTip("The series on screen")
                    self.table.setItem(row, column, item)
            self.table.resizeColumnsToContents()
            if self.entries:
                self.table.selectRow(current_row if current_row is not None else 0)
        self._sync_button()
        line = study_line(self.entries) if self.entries else ""
        self.study_label.setText(line)
        self.study_label.setVisible(bool(line))
        if self.folder is not None and self.entries:
            shown = "" if self.current_uid is None else "; the one on screen in bold"
            self.label.setText(f"{self.folder.name}: {len(self.entries)} series{shown}. "
                               "Double click a series (or Open series) to open it.")

    def _is_current(self, entry: SeriesEntry) -> bool:
        if self.current_uid is None:
            return False
        return entry.series_instance_uid == self.current_uid or (len(self.entries) == 1 and not self.current_uid)

    def _sync_button(self) -> None:
        self.open_button.setEnabled(self.selected_row() is not None)

    # ------------------------------------------------------------------------------ choosing
    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def open_row(self, row: int) -> None:
        """Open the series of ``row`` (through the window: unsaved work is asked about first)."""
        if self.folder is not None and 0 <= row < len(self.entries):
            self.series_chosen.emit(self.folder, self.entries[row].series_instance_uid)

    def open_selected(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.open_row(row)

    def text(self, row: int, column: str | int) -> str:
        """The text of a cell (``column`` by header name or index)."""
        item = self.table.item(row, COLUMN[column] if isinstance(column, str) else column)
        return item.text() if item is not None else ""


def _stamp(path: Path):
    try:
        return str(path.resolve()), path.stat().st_mtime_ns
    except OSError:
        return None
