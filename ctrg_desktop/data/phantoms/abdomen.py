"""Upper abdomen under the domes: liver, stomach (with a gas cap) and spleen."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.body import Body
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.geometry import ellipsoid, frame
from ctrg_desktop.data.phantoms.labelmap import Tissue
from ctrg_desktop.data.phantoms.patient import Patient
from ctrg_desktop.data.phantoms.thorax import DIAPHRAGM_MM, Thorax


def draw_abdomen(canvas: Canvas, body: Body, thorax: Thorax, patient: Patient) -> None:
    z, y, x = canvas.grid.block()
    liver = (x < 20 * body.cx + 0.6 * np.maximum(body.y_c - y, 0)) & (y < body.spine_y)
    full = (slice(None),) * 3
    canvas.paint(full, liver, patient.liver_hu, Tissue.LIVER, onto=(Tissue.ABDOMEN_OTHER,))
    under = (Tissue.ABDOMEN_OTHER, Tissue.LIVER)
    top = thorax.dome_left - DIAPHRAGM_MM - 2
    center = body.pt(55, -8, 0)
    center[2] = top - 36
    sl, r2 = ellipsoid(canvas.grid, center, (38 * body.cx, 34 * body.cy, 38))
    if sl is not None:
        zz = canvas.grid.block(sl)[0]
        wall = canvas.paint(sl, r2 <= 1, 40.0, Tissue.STOMACH, onto=under)
        inner = wall & (r2 <= 0.8)
        canvas.paint(sl, inner & (zz > center[2] + 12), -1000.0)
        canvas.paint(sl, inner & (zz <= center[2] + 12), 15.0)
    spleen = body.pt(82, 40, 0)
    spleen[2] = thorax.dome_left - 50
    sl, r2 = ellipsoid(canvas.grid, spleen, (40 * body.cy, 18 * body.cx, 45), frame((0.45, 0.9, 0.0)))
    canvas.paint(sl, r2 <= 1, patient.liver_hu - 8, Tissue.SPLEEN, onto=(Tissue.ABDOMEN_OTHER,))
