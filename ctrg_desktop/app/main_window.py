"""The main window: open a study (file, folder, zip, demo), show its slices and description."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop import __version__
from ctrg_desktop.app.slice_preview import SlicePreview
from ctrg_desktop.errors import CtrgError, MultipleSeriesError
from ctrg_desktop.io.volume import Volume

STUDY_FILTER = "CT studies (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm *.zip);;All files (*)"


class MainWindow(QtWidgets.QMainWindow):
    """Top-level window. ``open_study`` never raises: problems are shown and the window stays usable."""

    study_opened = QtCore.Signal(object)

    def __init__(self):
        super().__init__()
        self.setWindowTitle(f"ctrg-desktop {__version__}")
        self.volume: Volume | None = None
        self.last_error: str | None = None
        self.preview = SlicePreview()
        self.info = QtWidgets.QPlainTextEdit(readOnly=True)
        self.info.setMaximumWidth(380)
        splitter = QtWidgets.QSplitter()
        splitter.addWidget(self.preview)
        splitter.addWidget(self.info)
        splitter.setStretchFactor(0, 1)
        self.setCentralWidget(splitter)
        self._build_menu()
        self.statusBar().showMessage("Open a CT study (File menu) or the demo study")
        self.resize(1100, 720)

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (
            ("&Open file...", QtGui.QKeySequence.StandardKey.Open, self._choose_file),
            ("Open &folder...", "Ctrl+Shift+O", self._choose_folder),
            ("Open &demo study", "Ctrl+D", self.open_demo),
            ("&Quit", QtGui.QKeySequence.StandardKey.Quit, self.close),
        ):
            action = menu.addAction(text)
            action.setShortcut(QtGui.QKeySequence(shortcut))
            action.triggered.connect(slot)

    def _choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open CT study", "", STUDY_FILTER)
        if path:
            self.open_study(Path(path))

    def _choose_folder(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if path:
            self.open_study(Path(path))

    def open_demo(self) -> bool:
        from ctrg_desktop.data.demo import ensure_demo_study

        self.statusBar().showMessage("Fetching the demo study...")
        try:
            demo = ensure_demo_study()
        except CtrgError as exc:
            self.show_error(str(exc))
            return False
        return self.open_study(demo.nifti)

    def open_study(self, path: Path, series_uid: str | None = None) -> bool:
        """Read and show a study; on failure show the message and keep the current study."""
        from ctrg_desktop.io.readers import read_study

        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            volume = read_study(path, series_uid=series_uid)
        except MultipleSeriesError as exc:
            QtWidgets.QApplication.restoreOverrideCursor()
            uid = self._pick_series(exc.series)
            return self.open_study(path, uid) if uid else False
        except (CtrgError, OSError, ValueError) as exc:
            QtWidgets.QApplication.restoreOverrideCursor()
            self.show_error(f"Cannot open {Path(path).name}: {exc}")
            return False
        QtWidgets.QApplication.restoreOverrideCursor()
        self.volume = volume
        self.last_error = None
        self.preview.set_volume(volume)
        self.info.setPlainText(json.dumps(volume.summary(), indent=2))
        self.setWindowTitle(f"{Path(path).name} - ctrg-desktop {__version__}")
        self.statusBar().showMessage(f"Opened {path} ({' x '.join(map(str, volume.shape))})")
        self.study_opened.emit(volume)
        return True

    def _pick_series(self, series) -> str | None:
        items = [f"{s.description or '(no description)'} - {s.modality}, {s.slice_count} slices"
                 for s in series]
        item, ok = QtWidgets.QInputDialog.getItem(self, "Choose a series", "Series:", items, 0, False)
        return series[items.index(item)].series_instance_uid if ok else None

    def show_error(self, message: str) -> None:
        """Status bar + a non-blocking message box; the window stays usable."""
        self.last_error = message
        self.statusBar().showMessage(message)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "ctrg-desktop", message,
                                    parent=self)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
