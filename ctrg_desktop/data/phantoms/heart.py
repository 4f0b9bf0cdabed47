"""Heart (myocardium, blood pools, septum), pericardium and the coronary artery courses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctrg_desktop.data.phantoms.body import Body
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.geometry import ellipsoid, frame
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.patient import Patient
from ctrg_desktop.data.phantoms.thorax import Thorax

_LONG_AXIS = (0.55, -0.5, -0.67)   # base -> apex: left, anterior, inferior
_STD_RADII = np.array([58.0, 46.0, 42.0])
_SEPTUM = (0.7, 0.7, 0.0)          # right ventricle -> left ventricle


@dataclass
class HeartShape:
    """An ellipsoid heart: ``center`` XYZ mm, ``radii`` mm along the columns of ``axes`` (3, 3)."""

    center: np.ndarray
    radii: np.ndarray
    axes: np.ndarray
    pericardium_mm: float

    def half_extent(self, grow: float = 0.0) -> np.ndarray:
        """Half-size (mm) of the bounding box along X, Y, Z."""
        return np.sqrt(((self.axes * (self.radii + grow)) ** 2).sum(axis=1))

    def septum_normal(self) -> np.ndarray:
        n = np.asarray(_SEPTUM, float)
        u = self.axes[:, 0]
        n = n - (n @ u) * u
        return n / np.linalg.norm(n)

    def surface(self, theta, phi, inset: float = 0.0) -> np.ndarray:
        """Surface points ``(n, 3)``; ``theta`` 0 at the apex, pi at the base; moved ``inset`` mm inwards."""
        theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
        r = self.radii - inset
        local = np.stack([r[0] * np.cos(theta), r[1] * np.sin(theta) * np.cos(phi),
                          r[2] * np.sin(theta) * np.sin(phi)], -1)
        return self.center + local @ self.axes.T

    def coronary(self, name: str, n: int = 24, inset: float = 1.5) -> np.ndarray:
        """Points ``(n, 3)`` along the course of "LAD", "LCX" or "RCA" on the heart surface."""
        local_n = self.axes.T @ self.septum_normal()
        phi0 = np.arctan2(-self.radii[1] * local_n[1], self.radii[2] * local_n[2])
        front = [p for p in (phi0, phi0 + np.pi) if self.surface(np.pi / 2, p)[1] < self.center[1]][0]
        if name == "LAD":
            return self.surface(np.linspace(0.78 * np.pi, 0.2 * np.pi, n), front, inset)
        ring = self.surface(0.74 * np.pi, np.linspace(0, 2 * np.pi, 4 * n, endpoint=False), inset)
        left = ring[:, 0] > self.center[0]
        pts = ring[left] if name == "LCX" else ring[~left]
        return pts[np.linspace(0, len(pts) - 1, n).astype(int)]


def place_heart(body: Body, thorax: Thorax, patient: Patient) -> HeartShape:
    """Size the heart to the patient's target cardiothoracic ratio and rest it on the left dome."""
    axes = frame(_LONG_AXIS)
    unit = HeartShape(np.zeros(3), _STD_RADII, axes, 0.0)
    scale = patient.ctr * thorax.width / unit.half_extent()[0]
    radii = _STD_RADII * scale
    shape = HeartShape(np.zeros(3), radii, axes, 2.5 + patient.pericardial_fluid_mm)
    x, y = (18 + 25 * (scale - 1)) * body.cx, -22 * body.cy
    z = float(thorax.diaphragm_z(x, y)) + shape.half_extent(shape.pericardium_mm)[2] + 1.0
    shape.center = np.array([x, y, z])
    return shape


def draw_heart(canvas: Canvas, heart: HeartShape, patient: Patient) -> None:
    """Pericardial sac (fat, or fluid when effusion), myocardium, and the two blood pools."""
    onto = (Tissue.MEDIASTINAL_FAT, Tissue.PLEURA, *LUNGS)
    sl, r2 = ellipsoid(canvas.grid, heart.center, heart.radii + heart.pericardium_mm, heart.axes)
    sac_hu = 12.0 if patient.pericardial_fluid_mm > 0 else -70.0
    canvas.paint(sl, r2 <= 1, sac_hu, Tissue.PERICARDIUM, onto=onto)
    sl, r2 = ellipsoid(canvas.grid, heart.center, heart.radii, heart.axes)
    myo_hu = 100.0 if patient.contrast else 45.0
    canvas.paint(sl, r2 <= 1, myo_hu, Tissue.HEART, onto=(Tissue.PERICARDIUM,))
    z, y, x = canvas.grid.block(sl)
    n = heart.septum_normal()
    c = heart.center
    septum = np.abs((x - c[0]) * n[0] + (y - c[1]) * n[1] + (z - c[2]) * n[2]) < 4.0
    canvas.paint(sl, (r2 <= 0.72 ** 2) & ~septum, patient.blood_hu, onto=(Tissue.HEART,))
