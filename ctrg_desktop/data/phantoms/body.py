"""Body outline, subcutaneous fat, muscle wall, thoracic cavity and breasts."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.geometry import ellipsoid
from ctrg_desktop.data.phantoms.labelmap import Tissue
from ctrg_desktop.data.phantoms.patient import Patient

FAT_HU, MUSCLE_HU, MEDIASTINAL_FAT_HU = -100.0, 45.0, -85.0
_MUSCLE_ANT, _MUSCLE_LAT, _MUSCLE_POST = 12.0, 12.0, 30.0
_STD_CAVITY = (113.0, 74.0)  # cavity half-width/depth of the standard patient (mm)


class Body:
    """Elliptic cross-sections varying with Z (patient mm) and the map from the standard patient.

    Mediastinal landmarks are written for a standard patient; :meth:`pt` scales them to this one.
    """

    def __init__(self, patient: Patient):
        self.sx, self.sy, self.sz = patient.scale
        self.fat = patient.fat_mm
        self.y_c = (_MUSCLE_ANT - _MUSCLE_POST) / 2
        a, b = self.cavity(0.0)
        self.cx, self.cy = float(a / _STD_CAVITY[0]), float(b / _STD_CAVITY[1])

    def _taper(self, z):
        return 1 - 0.0025 * np.maximum(np.asarray(z) / self.sz - 60, 0)

    def outline(self, z):
        """Half-width and half-depth (mm) of the skin outline at height ``z``."""
        t = self._taper(z)
        return 140 * self.sx * t, 110 * self.sy * t

    def cavity(self, z):
        """Half-width and half-depth (mm) of the thoracic cavity (centred at Y = ``y_c``)."""
        a, b = self.outline(z)
        return a - self.fat - _MUSCLE_LAT, b - self.fat - (_MUSCLE_ANT + _MUSCLE_POST) / 2

    def pt(self, x, y, z) -> np.ndarray:
        """Standard-patient point (mm) -> this patient's frame."""
        return np.array([x * self.cx, y * self.cy, z * self.sz], dtype=float)

    @property
    def spine_y(self) -> float:
        """Y (mm) of the vertebral body centres."""
        return self.y_c + float(self.cavity(0.0)[1]) - 12 * self.cy


def draw_body(canvas: Canvas, body: Body) -> None:
    """Fat, muscle wall and cavity (filled with mediastinal fat) on the whole grid."""
    z, y, x = canvas.grid.block()
    a, b = body.outline(z)
    full = (slice(None),) * 3
    canvas.paint(full, (x / a) ** 2 + (y / b) ** 2 <= 1, FAT_HU, Tissue.FAT)
    inner = (x / (a - body.fat)) ** 2 + (y / (b - body.fat)) ** 2 <= 1
    canvas.paint(full, inner, MUSCLE_HU, Tissue.MUSCLE)
    ac, bc = body.cavity(z)
    canvas.paint(full, (x / ac) ** 2 + ((y - body.y_c) / bc) ** 2 <= 1, MEDIASTINAL_FAT_HU, Tissue.MEDIASTINAL_FAT)


def draw_breasts(canvas: Canvas, body: Body, size: float) -> None:
    """Two breasts (fat with a glandular core) on the anterior chest wall; nothing when size is 0."""
    if size <= 0:
        return
    zc = -65 * body.sz
    front = -float(body.outline(zc)[1])
    for side in (-1, 1):
        center = (side * 70 * body.sx, front + 22, zc)
        sl, r2 = ellipsoid(canvas.grid, center, (60 * size, 22 + 22 * size, 55 * size))
        canvas.paint(sl, r2 <= 1, FAT_HU, Tissue.BREAST, onto=(Tissue.BACKGROUND, Tissue.FAT))
        canvas.paint(sl, r2 <= 0.3, 25.0, Tissue.BREAST, onto=(Tissue.BREAST,))
