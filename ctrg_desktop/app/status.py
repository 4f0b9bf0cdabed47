"""Status bar: messages, the cursor readout, and a progress bar with Cancel during loads."""

from __future__ import annotations

from PySide6 import QtWidgets


class StatusPanel:
    def __init__(self, bar: QtWidgets.QStatusBar, on_cancel):
        self.bar = bar
        self.readout_label = QtWidgets.QLabel()
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(220)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(on_cancel)
        bar.addPermanentWidget(self.readout_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        self.stop_progress()

    def message(self, text: str) -> None:
        self.bar.showMessage(text)

    def readout(self, text: str) -> None:
        self.readout_label.setText(text)

    def start_progress(self, text: str) -> None:
        self.message(text)
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        self.cancel_button.show()

    def progress(self, fraction: float, text: str) -> None:
        self.progress_bar.setValue(int(fraction * 1000))
        if text:
            self.message(text)

    def stop_progress(self) -> None:
        self.progress_bar.hide()
        self.cancel_button.hide()
