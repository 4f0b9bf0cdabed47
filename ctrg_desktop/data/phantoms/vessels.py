"""Great vessels: aorta, pulmonary trunk and arteries, venae cavae, brachiocephalic veins, arch branches.

Courses are polylines in standard-patient mm (X left, Y posterior, Z superior, carina at Z = 0).
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.body import MEDIASTINAL_FAT_HU, Body
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.patient import Patient
from ctrg_desktop.data.phantoms.tubes import paint_tube

AORTA = {  # part -> (course, radius mm)
    "ascending aorta": ([(-2, -18, -45), (-6, -17, 0), (-8, -15, 24)], 14.0),
    "aortic arch": ([(-8, -15, 24), (-2, -9, 37), (10, 5, 42), (22, 22, 38), (27, 36, 25)], 13.0),
    "descending aorta": ([(27, 36, 25), (26, 40, -60), (16, 30, -125), (6, 24, -220)], 12.0),
}
_OTHERS = [  # (course, radius, label, arterial)
    ([(16, -30, -35), (12, -8, -8)], 13.0, Tissue.PULMONARY_ARTERY, False),
    ([(12, -8, -8), (38, 12, -10), (50, 20, -18)], 10.0, Tissue.PULMONARY_ARTERY, False),
    ([(12, -8, -8), (-18, 2, -12), (-44, 10, -20)], 9.0, Tissue.PULMONARY_ARTERY, False),
    ([(-32, -6, 72), (-32, -4, -45)], 10.0, Tissue.VEINS, False),
    ([(50, -22, 88), (-26, -10, 72)], 7.0, Tissue.VEINS, False),
    ([(-48, -6, 125), (-32, -6, 72)], 8.0, Tissue.VEINS, False),
    ([(-22, 16, -230), (-22, 10, -112)], 11.0, Tissue.VEINS, False),
    ([(-4, -8, 38), (-18, 0, 95), (-30, 5, 140)], 6.0, Tissue.ARCH_ARTERIES, True),
    ([(6, 0, 42), (16, 6, 140)], 4.5, Tissue.ARCH_ARTERIES, True),
    ([(16, 14, 40), (30, 18, 90), (75, 12, 112)], 5.0, Tissue.ARCH_ARTERIES, True),
]
SLEEVE_MM = 7.0   # mediastinal fat around the great vessels
_ONTO = (Tissue.MEDIASTINAL_FAT, Tissue.PLEURA, Tissue.ABDOMEN_OTHER, Tissue.LIVER, Tissue.DIAPHRAGM,
         Tissue.PERICARDIUM, Tissue.ESOPHAGUS, Tissue.MUSCLE, *LUNGS)


def aorta_course(body: Body) -> list[tuple[str, np.ndarray, float]]:
    """``(part, points (n, 3) patient mm, radius mm)`` for the three parts of the thoracic aorta."""
    r = float(np.sqrt(body.cx * body.cy))
    return [(part, np.array([body.pt(*p) for p in pts]), rad * r) for part, (pts, rad) in AORTA.items()]


def draw_vessels(canvas: Canvas, body: Body, patient: Patient) -> None:
    """Paint the great vessels (blood HU; pulmonary and venous ones slightly less enhanced)."""
    r = float(np.sqrt(body.cx * body.cy))
    venous = patient.blood_hu if not patient.contrast else 0.75 * patient.blood_hu
    tubes = [([body.pt(*p) for p in pts], rad * r, label, patient.blood_hu if arterial else venous)
             for pts, rad, label, arterial in _OTHERS]
    tubes += [(course, rad, Tissue.AORTA, patient.blood_hu) for _, course, rad in aorta_course(body)]
    for course, rad, _, _ in tubes:
        paint_tube(canvas, course, rad + SLEEVE_MM, MEDIASTINAL_FAT_HU, Tissue.MEDIASTINAL_FAT, onto=LUNGS)
    for course, rad, label, hu in tubes:
        onto = _ONTO + (Tissue.VEINS,) if label == Tissue.AORTA else _ONTO
        paint_tube(canvas, course, rad, hu, label, onto=onto)
