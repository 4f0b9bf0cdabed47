"""Spine (bodies, discs, canal, posterior elements), ribs with costal cartilage, sternum,
clavicles and scapulae. Bone is a cortex shell over cancellous bone."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.body import Body
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.patient import Patient
from ctrg_desktop.data.phantoms.tubes import paint_tube

CANCELLOUS_HU, CARTILAGE_HU, DISC_HU, CANAL_HU = 260.0, 110.0, 80.0, 20.0
_SOFT = (Tissue.MUSCLE, Tissue.FAT, Tissue.MEDIASTINAL_FAT, Tissue.PLEURA, Tissue.ABDOMEN_OTHER,
         Tissue.DIAPHRAGM, Tissue.LIVER, Tissue.BREAST, *LUNGS)
_POST_END = 0.93 * np.pi
_ANTERIOR_END = [0.07] * 7 + [0.15, 0.2, 0.3, 0.45, 0.6]   # x pi, incl. cartilage
_BONE_END = [0.24] * 7 + [0.26, 0.3, 0.35, 0.45, 0.6]


class Ribcage:
    """Rib levels: rib ``n`` (0 = first) leaves the spine at ``top - n * pitch`` and drops anteriorly."""

    def __init__(self, body: Body):
        self.top = 90 * body.sz
        self.pitch = 23.5 * body.sz
        self.drop = 55 * body.sz


def draw_skeleton(canvas: Canvas, body: Body, patient: Patient) -> None:
    ribs = Ribcage(body)
    _spine(canvas, body, ribs, patient.cortex_hu)
    _ribs_and_scapulae(canvas, body, ribs, patient.cortex_hu)
    _sternum(canvas, body, patient.cortex_hu)
    for side in (-1, 1):
        front = body.y_c - float(body.cavity(62 * body.sz)[1])
        course = [(side * 20 * body.cx, front - 4, 64 * body.sz), (side * 70 * body.cx, front + 2, 80 * body.sz),
                  (side * 112 * body.sx, -10 * body.cy, 92 * body.sz)]
        paint_tube(canvas, course, 7.0, patient.cortex_hu, Tissue.CLAVICLE, onto=_SOFT,
                   lumen=4.0, lumen_hu=CANCELLOUS_HU)


def _spine(canvas: Canvas, body: Body, ribs: Ribcage, cortex: float) -> None:
    grid, ys = canvas.grid, body.spine_y
    ax, ay = 17 * body.cx, 14 * body.cy
    sl = grid.box((-60, ys - ay - 2, -1e4), (60, ys + 70, 1e4))
    if sl is None:
        return
    z, y, x = grid.block(sl)
    phase = (ribs.top - z) / ribs.pitch
    half = ribs.pitch / 2
    dz = np.abs(phase - np.round(phase)) * ribs.pitch           # mm from the mid-height of a vertebra
    r = np.sqrt((x / ax) ** 2 + ((y - ys) / ay) ** 2)
    vert = (r <= 1) & (dz < half - 2.5)
    canvas.paint(sl, (r <= 1) & (dz >= half - 2.5), DISC_HU, Tissue.DISC)
    shell = (r > 1 - 2.5 / ay) | (dz > half - 4.5)
    canvas.paint(sl, vert, np.where(shell, np.float32(cortex), np.float32(CANCELLOUS_HU)), Tissue.VERTEBRA)
    yc = ys + ay + 9
    rc = np.sqrt(x ** 2 + (y - yc) ** 2)
    arch = (rc <= 14) & (rc > 8) & (y > yc - 4) & (dz < half - 4)
    canvas.paint(sl, arch, cortex, Tissue.VERTEBRA, onto=_SOFT)
    canvas.paint(sl, rc <= 8, CANAL_HU, Tissue.SPINAL_CANAL)
    for n in range(int((ribs.top - grid.z.min()) / ribs.pitch) + 2):
        zv = ribs.top - n * ribs.pitch
        paint_tube(canvas, [(0, yc + 12, zv), (0, yc + 30, zv - 12)], 4.0, cortex, Tissue.VERTEBRA, onto=_SOFT)
        for side in (-1, 1):
            paint_tube(canvas, [(side * 8, yc, zv), (side * 30 * body.cx, yc + 8, zv + 3)], 4.5, cortex,
                       Tissue.VERTEBRA, onto=_SOFT)


def _ribs_and_scapulae(canvas: Canvas, body: Body, ribs: Ribcage, cortex: float) -> None:
    """Ribs run in the chest wall 7 mm outside the cavity, sloping down towards the front."""
    z, y, x = canvas.grid.block()
    ac, bc = body.cavity(z)
    xn, yn = x / (ac + 7), (y - body.y_c) / (bc + 7)
    rho = np.sqrt(xn ** 2 + yn ** 2)
    radius = 0.5 * (ac + bc) + 7
    near = np.nonzero(np.abs(rho - 1) * radius < 20)
    k, j, i = near
    rho, dr = rho[near], (rho[near] - 1) * radius[k, 0, 0]
    phi = np.abs(np.arctan2(xn[near], -yn[near]))
    zz = canvas.grid.z[k]
    q = (ribs.top - zz - ribs.drop * (_POST_END - phi) / _POST_END) / ribs.pitch
    n = np.round(q).astype(int)
    d = np.sqrt(((q - n) * ribs.pitch / 5.0) ** 2 + (dr / 3.5) ** 2)
    valid = (n >= 0) & (n < 12) & (phi < _POST_END) & (d <= 1)
    nn = np.clip(n, 0, 11)
    ant = np.array(_ANTERIOR_END)[nn] * np.pi
    bone = valid & (phi >= np.array(_BONE_END)[nn] * np.pi)
    cartilage = valid & ~bone & (phi >= ant)
    hu = np.where(d > 0.55, np.float32(cortex), np.float32(CANCELLOUS_HU))
    _paint_points(canvas, (k, j, i), bone, hu, Tissue.RIB)
    _paint_points(canvas, (k, j, i), cartilage, np.float32(CARTILAGE_HU), Tissue.RIB)
    top = 100 * body.sz
    low = 5 * body.sz + (top - 5 * body.sz) * np.clip((phi - 0.58 * np.pi) / (0.24 * np.pi), 0, 1) ** 2
    scapula = (dr > 12) & (dr < 18) & (phi > 0.58 * np.pi) & (phi < 0.82 * np.pi) & (zz < top) & (zz > low)
    _paint_points(canvas, (k, j, i), scapula, np.float32(cortex * 0.8), Tissue.SCAPULA)


def _paint_points(canvas: Canvas, idx, mask, hu, label) -> None:
    sel = tuple(a[mask] for a in idx)
    keep = canvas.has((Tissue.MUSCLE, Tissue.FAT, Tissue.BREAST))[sel]
    sel = tuple(a[keep] for a in sel)
    canvas.hu[sel] = np.broadcast_to(hu, mask.shape)[mask][keep]
    canvas.lab[sel] = label


def _sternum(canvas: Canvas, body: Body, cortex: float) -> None:
    """Manubrium and body: a flat elliptic bar behind the anterior chest wall."""
    for z0, z1, half_w in ((45, 68, 26), (-105, 45, 14)):
        zc, hz, hw = 0.5 * (z0 + z1) * body.sz, 0.5 * (z1 - z0) * body.sz, half_w * body.cx
        yc = body.y_c - float(body.cavity(zc)[1]) - 6
        sl = canvas.grid.box((-hw, yc - 7, zc - hz), (hw, yc + 7, zc + hz))
        if sl is None:
            continue
        z, y, x = canvas.grid.block(sl)
        inside = (x / hw) ** 2 + ((y - yc) / 6.5) ** 2
        hu = np.where(inside > 0.45, np.float32(cortex), np.float32(CANCELLOUS_HU))
        canvas.paint(sl, (inside <= 1) & (np.abs(z - zc) <= hz), hu, Tissue.STERNUM, onto=_SOFT)
