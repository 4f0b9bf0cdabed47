"""Esophagus, thyroid and mediastinal lymph nodes (normal size)."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.body import MEDIASTINAL_FAT_HU, Body
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.geometry import ellipsoid
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.patient import Patient
from ctrg_desktop.data.phantoms.tubes import paint_tube

ESOPHAGUS = [(4, 30, 150), (5, 30, 0), (8, 26, -70), (30, 8, -128)]
#: Lymph node stations: name -> centre in standard-patient mm.
NODE_STATIONS = {
    "right paratracheal": (-17, 2, 30),
    "prevascular": (2, -38, 30),
    "aortopulmonary window": (22, 6, 12),
    "subcarinal": (2, 26, -24),
    "right hilar": (-48, 8, -24),
    "left hilar": (50, 14, -22),
}
NODE_ONTO = (Tissue.MEDIASTINAL_FAT, Tissue.PLEURA, Tissue.LYMPH_NODE, *LUNGS)


def esophagus_course(body: Body) -> np.ndarray:
    """Centreline (n, 3) patient mm from the thoracic inlet to the gastric cardia."""
    return np.array([body.pt(*p) for p in ESOPHAGUS])


def draw_esophagus(canvas: Canvas, body: Body, patient: Patient) -> None:
    """Muscular tube behind the trachea and left atrium; some patients have a little air inside."""
    r = 8.0 * float(np.sqrt(body.cx * body.cy))
    lumen = 2.5 if patient.esophagus_air else 0.0
    course = esophagus_course(body)
    paint_tube(canvas, course, r + 5, MEDIASTINAL_FAT_HU, Tissue.MEDIASTINAL_FAT, onto=LUNGS)
    paint_tube(canvas, course, r, 40.0, Tissue.ESOPHAGUS, lumen=lumen,
               onto=(Tissue.MEDIASTINAL_FAT, Tissue.PLEURA, Tissue.HEART, Tissue.PERICARDIUM,
                     Tissue.DIAPHRAGM, Tissue.ABDOMEN_OTHER, Tissue.LIVER, Tissue.MUSCLE, *LUNGS))


def draw_thyroid(canvas: Canvas, body: Body, patient: Patient) -> None:
    """Two lobes beside the trachea and an isthmus in front of it (iodine-rich: ~100 HU)."""
    hu = 150.0 if patient.contrast else 100.0
    onto = (Tissue.MEDIASTINAL_FAT, Tissue.MUSCLE, Tissue.FAT, Tissue.PLEURA, *LUNGS)
    for center, radii in (((-20, 6, 94), (10, 12, 22)), ((20, 6, 94), (10, 12, 22)), ((0, -5, 84), (14, 5, 7))):
        sl, r2 = ellipsoid(canvas.grid, body.pt(*center), radii)
        canvas.paint(sl, r2 <= 1, hu, Tissue.THYROID, onto=onto)


def draw_normal_nodes(canvas: Canvas, body: Body, rng) -> None:
    """A few small (4-8 mm) nodes at random mediastinal stations."""
    names = sorted(NODE_STATIONS)
    for name in rng.choice(names, size=3, replace=False):
        center = body.pt(*NODE_STATIONS[name]) + rng.uniform(-3, 3, size=3)
        r = rng.uniform(2.0, 4.0)
        sl, r2 = ellipsoid(canvas.grid, center, (r, r, 1.4 * r))
        canvas.paint(sl, r2 <= 1, 40.0, Tissue.LYMPH_NODE, onto=(Tissue.MEDIASTINAL_FAT,))
