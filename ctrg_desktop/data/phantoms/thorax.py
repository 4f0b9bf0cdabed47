"""Lungs, diaphragm, lobes and pleura: the thoracic cavity above and the abdomen below the domes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ctrg_desktop.data.phantoms.body import MUSCLE_HU, Body
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.patient import Patient

DIAPHRAGM_MM = 5.0


class Thorax:
    """Dome, apex and fissure surfaces of one patient (patient mm)."""

    def __init__(self, body: Body, patient: Patient):
        self.body = body
        a, b = (float(v) for v in body.cavity(0.0))
        self.width, self.depth = a, b
        self.mid_x = 5 * body.cx
        self.dome_right = (-112 + patient.dome_shift) * body.sz
        self.dome_left = self.dome_right - 15 * body.sz
        self.dome_xy = (0.45 * a, body.y_c - 15 * body.cy)
        self.apex = (92 * body.sz, 0.5 * a, body.y_c + 20 * body.cy)

    def diaphragm_z(self, x, y):
        """Height (mm) of the diaphragm's upper surface under (x, y): two paraboloid domes."""
        dx, dy = self.dome_xy
        right = self.dome_right - 0.008 * ((x + dx) ** 2 + (y - dy) ** 2)
        left = self.dome_left - 0.008 * ((x - dx) ** 2 + (y - dy) ** 2)
        w = 1 / (1 + np.exp(-(x - self.mid_x) / 12))
        return (1 - w) * right + w * left

    def apex_z(self, x, y):
        """Height (mm) of the lung apex surface above (x, y)."""
        z0, ax, ay = self.apex
        return z0 - 0.02 * ((np.abs(x - self.mid_x) - ax) ** 2 + (y - ay) ** 2)

    def lobe(self, xyz, side: str) -> np.ndarray:
        """Lobe name ("upper", "middle", "lower") of patient points ``(n, 3)`` in the given lung."""
        x, y, z = np.asarray(xyz, float).T
        dome = self.dome_right if side == "right" else self.dome_left
        y_post, y_ant = self.body.y_c + self.depth, self.body.y_c - self.depth
        z_post = 20 * self.body.sz
        fissure = dome - 5 + (z_post - dome + 5) * (y - y_ant) / (y_post - y_ant)
        upper = np.where((side == "right") & (z < -30 * self.body.sz), "middle", "upper")
        return np.where(z < fissure, "lower", upper)


def draw_thorax(canvas: Canvas, thorax: Thorax, spine_y: float, lung_hu: float) -> None:
    """Abdomen fill and diaphragm below the domes, the two lungs above (on the cavity fill)."""
    grid, body = canvas.grid, thorax.body
    z, y, x = grid.block()
    cavity = canvas.has((Tissue.MEDIASTINAL_FAT,))
    zd = thorax.diaphragm_z(x, y)
    full = (slice(None),) * 3
    canvas.paint(full, cavity & (z <= zd - DIAPHRAGM_MM), -40.0, Tissue.ABDOMEN_OTHER)
    canvas.paint(full, cavity & (z <= zd) & (z > zd - DIAPHRAGM_MM), 40.0, Tissue.DIAPHRAGM)
    band = np.abs(x - thorax.mid_x) < 10 * body.cx
    spine = (x / (26 * body.cx)) ** 2 + ((y - spine_y - 4) / (24 * body.cy)) ** 2 <= 1
    apex = thorax.apex_z(x, y)
    canvas.paint(full, cavity & (z >= apex) & ~band, MUSCLE_HU, Tissue.MUSCLE)
    lung = cavity & (z > zd) & (z < apex) & ~band & ~spine
    hu = (lung_hu + 25 * (y - body.y_c) / thorax.depth).astype(np.float32)
    right = x < thorax.mid_x
    canvas.paint(full, lung & right, hu, Tissue.LUNG_RIGHT)
    canvas.paint(full, lung & ~right, hu, Tissue.LUNG_LEFT)


def draw_pleura(canvas: Canvas) -> None:
    """Relabel the soft-tissue voxels that touch a lung as pleura (HU unchanged)."""
    lungs = canvas.has(LUNGS)
    shell = ndimage.binary_dilation(lungs) & canvas.has((Tissue.MUSCLE, Tissue.MEDIASTINAL_FAT))
    canvas.lab[shell] = Tissue.PLEURA
