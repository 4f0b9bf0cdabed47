"""Medical material: pacemaker with lead, port catheter, sternotomy wires, nasogastric tube.

Drawn after smoothing and noise, as sharp metal (2000-3000 HU) labelled as a device.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.anatomy import Anatomy
from ctrg_desktop.data.phantoms.finding import Detail, min_size
from ctrg_desktop.data.phantoms.geometry import bbox_of, ellipsoid, union_bbox
from ctrg_desktop.data.phantoms.labelmap import BONES, Tissue
from ctrg_desktop.data.phantoms.tubes import paint_tube

KINDS = {"pacemaker": 0.35, "port catheter": 0.25, "sternotomy wires": 0.2, "nasogastric tube": 0.2}
_NOT_BONE = tuple(int(t) for t in Tissue if t not in BONES and t != Tissue.BACKGROUND)


def draw_medical_material(anat: Anatomy, rng) -> list[Detail]:
    """One device (sometimes two different ones)."""
    kinds = list(KINDS)
    count = 2 if rng.random() < 0.1 else 1
    chosen = rng.choice(len(kinds), size=count, replace=False, p=list(KINDS.values()))
    return [_DRAW[kinds[n]](anat, rng) for n in sorted(chosen)]


def _wire(anat: Anatomy) -> float:
    return max(1.0, min_size(anat, 0.45))


def _tube(anat: Anatomy, points, radius: float, hu: float, onto=_NOT_BONE):
    blocks = paint_tube(anat.canvas, points, radius, hu, Tissue.DEVICE, onto=onto)
    return union_bbox(bbox_of(sl, m) for sl, m in blocks)


def _box(anat: Anatomy, center, radii, hu: float):
    sl, r2 = ellipsoid(anat.grid, center, radii)
    onto = (Tissue.FAT, Tissue.MUSCLE, Tissue.BREAST)
    return bbox_of(sl, anat.canvas.paint(sl, r2 <= 1, hu, Tissue.DEVICE, onto=onto))


def _subclavian_path(anat: Anatomy, side: int, end) -> list:
    b = anat.body
    return [b.pt(side * 45, -25, 78), b.pt(side * 20, -14, 74), b.pt(-32, -6, 70), end]


def _pacemaker(anat: Anatomy, rng) -> Detail:
    b, side = anat.body, (1 if rng.random() < 0.8 else -1)
    front = b.y_c - float(b.cavity(55 * b.sz)[1]) - 12 - 0.5 * b.fat
    gen = np.array([side * 62 * b.cx, front, 55 * b.sz])
    boxes = [_box(anat, gen, (24, max(4.0, min_size(anat, 1)), 20), 2500.0)]
    apex = anat.heart.surface(0.25 * np.pi, np.pi, inset=12.0)
    lead = [gen, *_subclavian_path(anat, side, b.pt(-32, -4, -40)), apex]
    boxes.append(_tube(anat, lead, _wire(anat), 2500.0))
    where = "left" if side > 0 else "right"
    return Detail("Medical material", "mediastinum and heart", where, f"{where} chest wall", None,
                  union_bbox(boxes), extra={"kind": "pacemaker"})


def _port(anat: Anatomy, rng) -> Detail:
    b, side = anat.body, (-1 if rng.random() < 0.8 else 1)
    front = b.y_c - float(b.cavity(60 * b.sz)[1]) - 10 - 0.5 * b.fat
    port = np.array([side * 55 * b.cx, front, 60 * b.sz])
    boxes = [_box(anat, port, (12, max(5.0, min_size(anat, 1)), 12), 2200.0)]
    boxes.append(_tube(anat, [port, *_subclavian_path(anat, side, b.pt(-32, -4, -35))], _wire(anat), 2000.0))
    where = "left" if side > 0 else "right"
    return Detail("Medical material", "others", where, f"{where} chest wall and superior vena cava", None,
                  union_bbox(boxes), extra={"kind": "port catheter"})


def _sternotomy(anat: Anatomy, rng) -> Detail:
    b, boxes = anat.body, []
    for z in np.linspace(35, -85, int(rng.integers(4, 7))) * b.sz:
        yc = b.y_c - float(b.cavity(z)[1]) - 6
        ring = [(16 * b.cx * np.cos(a), yc + 8 * np.sin(a), z) for a in np.linspace(0, 2 * np.pi, 9)]
        boxes.append(_tube(anat, ring, _wire(anat), 3000.0, onto=None))
    return Detail("Medical material", "bone", None, "sternum", None, union_bbox(boxes),
                  extra={"kind": "sternotomy wires"})


def _nasogastric(anat: Anatomy, rng) -> Detail:
    course = anat.esophagus.copy()
    course[-1] = course[-1] + (course[-1] - course[-2]) * 0.3
    bbox = _tube(anat, course, _wire(anat), 2000.0, onto=None)
    return Detail("Medical material", "esophagus", None, "esophagus and stomach", None, bbox,
                  extra={"kind": "nasogastric tube"})


_DRAW = {"pacemaker": _pacemaker, "port catheter": _port, "sternotomy wires": _sternotomy,
         "nasogastric tube": _nasogastric}
