"""A plain axial slice preview (QImage) with a slice slider; the VTK viewer supersedes it."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.imaging.display import WINDOW_PRESETS, window_to_uint8
from ctrg_desktop.io.volume import Volume


class SlicePreview(QtWidgets.QWidget):
    """Shows ``volume.array[k]`` in a window preset, scaled to the widget with true aspect ratio."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.volume: Volume | None = None
        self.preset = "mediastinum"
        self.image_label = QtWidgets.QLabel(alignment=QtCore.Qt.AlignmentFlag.AlignCenter)
        self.image_label.setMinimumSize(256, 256)
        self.image_label.setStyleSheet("background: black;")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self._render)
        self.presets = QtWidgets.QComboBox()
        self.presets.addItems(list(WINDOW_PRESETS))
        self.presets.setCurrentText(self.preset)
        self.presets.currentTextChanged.connect(self.set_preset)
        self.position = QtWidgets.QLabel()
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.position)
        bar.addWidget(self.presets)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.image_label, 1)
        layout.addLayout(bar)

    def set_volume(self, volume: Volume) -> None:
        self.volume = volume
        self.slider.setRange(0, volume.shape[0] - 1)
        self.slider.setValue(volume.shape[0] // 2)
        self._render()

    def set_preset(self, name: str) -> None:
        self.preset = name
        self._render()

    def current_pixels(self) -> np.ndarray | None:
        """The displayed slice as 8-bit grey (rows = anterior -> posterior, columns = R -> L)."""
        if self.volume is None:
            return None
        level, width = WINDOW_PRESETS[self.preset]
        return window_to_uint8(self.volume.array[self.slider.value()], level, width)

    def resizeEvent(self, event):  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        pixels = self.current_pixels()
        if pixels is None:
            return
        pixels = np.ascontiguousarray(pixels)
        h, w = pixels.shape
        image = QtGui.QImage(pixels.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8).copy()
        sj, si = self.volume.spacing[1], self.volume.spacing[2]
        size = QtCore.QSize(int(round(w * si)), int(round(h * sj)))
        size.scale(self.image_label.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)
        self.image_label.setPixmap(QtGui.QPixmap.fromImage(image).scaled(
            size, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
            QtCore.Qt.TransformationMode.SmoothTransformation))
        self.position.setText(f"slice {self.slider.value() + 1}/{self.volume.shape[0]}")
