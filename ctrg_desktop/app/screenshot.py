"""PNG export: one view's render window, or the whole window with the VTK views composited in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui


def array_to_qimage(pixels: np.ndarray) -> QtGui.QImage:
    pixels = np.ascontiguousarray(pixels[..., :3])
    h, w, _ = pixels.shape
    return QtGui.QImage(pixels.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()


def save_view_png(view, path) -> Path:
    """Write a view's rendered pixels to ``path`` (PNG)."""
    path = Path(path)
    if not array_to_qimage(view.grab_array()).save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return path


def grab_window(window, views) -> QtGui.QImage:
    """The window as drawn by Qt, with each visible VTK view's pixels painted over its place
    (Qt cannot grab OpenGL children itself)."""
    image = window.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    ratio = image.devicePixelRatio()
    painter = QtGui.QPainter(image)
    for view in views:
        if not view.isVisible():
            continue
        top_left = view.mapTo(window, QtCore.QPoint(0, 0))
        target = QtCore.QRectF(top_left.x(), top_left.y(), view.width(), view.height())
        painter.drawImage(target, array_to_qimage(view.grab_array()))
    painter.end()
    image.setDevicePixelRatio(ratio)
    return image
