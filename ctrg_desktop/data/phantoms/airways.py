"""Trachea, main and lobar bronchi, and the intrapulmonary bronchial and vascular trees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctrg_desktop.data.phantoms.body import MEDIASTINAL_FAT_HU, Body
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.geometry import bbox_flat
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.patient import Patient
from ctrg_desktop.data.phantoms.raster import tube_voxels
from ctrg_desktop.data.phantoms.tubes import paint_tube

WALL_HU = 30.0
_CENTRAL = [  # (course in standard mm, outer radius, lumen radius, label)
    ([(0, 8, 150), (0, 11, 60), (0, 14, 0)], 10.5, 8.5, Tissue.TRACHEA),
    ([(0, 14, 0), (-30, 19, -14), (-40, 26, -45)], 8.0, 6.0, Tissue.BRONCHI),
    ([(-30, 19, -14), (-52, 20, -6)], 6.0, 4.5, Tissue.BRONCHI),
    ([(0, 14, 0), (38, 26, -30), (55, 20, -20)], 8.0, 6.0, Tissue.BRONCHI),
    ([(38, 26, -30), (48, 34, -55)], 6.0, 4.5, Tissue.BRONCHI),
]
_LOBES = [  # (lobar bronchus end in standard mm, side, lobe, segmental directions)
    ((-52, 20, -6), "right", "upper", [(-0.2, 0.1, 1), (-0.5, 0.6, 0.5), (-0.4, -0.9, 0.2)]),
    ((-42, 20, -38), "right", "middle", [(-0.8, -0.5, -0.3), (-0.3, -0.9, -0.3)]),
    ((-40, 26, -45), "right", "lower", [(-0.3, 0.9, 0.1), (-0.5, -0.4, -0.8), (-0.8, 0.2, -0.6), (-0.2, 0.7, -0.7)]),
    ((55, 20, -20), "left", "upper", [(0.3, 0.3, 1), (0.4, -0.9, 0.3), (0.7, -0.6, -0.1), (0.5, -0.7, -0.5)]),
    ((48, 34, -55), "left", "lower", [(0.3, 0.9, 0.1), (0.4, -0.4, -0.8), (0.8, 0.2, -0.6), (0.2, 0.7, -0.7)]),
]
_VEIN_ROOTS = [((-40, 24, -50), (-0.6, 0.1, 0.6)), ((-40, 26, -55), (-0.5, 0.3, -0.7)),
               ((40, 28, -50), (0.6, 0.1, 0.6)), ((40, 30, -55), (0.5, 0.3, -0.7))]


@dataclass
class Branch:
    """One airway segment inside a lung: centreline ``p0``-``p1`` (mm), lumen radius and wall (mm)."""

    p0: np.ndarray
    p1: np.ndarray
    lumen: float
    wall: float
    generation: int
    side: str
    lobe: str


def grow_tree(rng, start, direction, length: float, radius: float, depth: int):
    """Binary tree as arrays ``(p0 (n, 3), p1 (n, 3), radius (n,), generation (n,))`` in mm.

    Children turn 20-37 degrees off their parent, 15 % shorter and 25 % thinner (at least 1.25 mm).
    """
    p, d = np.asarray(start, float)[None], _unit(direction)[None]
    parts = []
    for g in range(depth):
        p1 = p + d * length
        parts.append((p, p1, np.full(len(p), max(radius, 1.25)), np.full(len(p), g)))
        w = np.cross(d, rng.normal(size=d.shape))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        a = rng.uniform(0.35, 0.65, size=(len(p), 2, 1))
        d = np.concatenate([np.cos(a[:, 0]) * d + np.sin(a[:, 0]) * w, np.cos(a[:, 1]) * d - np.sin(a[:, 1]) * w])
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        p, length, radius = np.concatenate([p1, p1]), length * 0.85, radius * 0.78
    return tuple(np.concatenate(x) for x in zip(*parts))


def _spread(rng, direction, n: int) -> list[np.ndarray]:
    """``n`` directions about 30 degrees around ``direction``, evenly turned about it."""
    d = _unit(direction)
    w = _unit(np.cross(d, rng.normal(size=3)))
    v = np.cross(d, w)
    turns = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n) / n
    return [_unit(d + 0.55 * (np.cos(t) * w + np.sin(t) * v)) for t in turns]


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def draw_central_airways(canvas: Canvas, body: Body) -> None:
    """Trachea and main/lobar bronchi: air lumen with a soft-tissue wall, over everything but bone."""
    r = float(np.sqrt(body.cx * body.cy))
    for pts, outer, lumen, label in _CENTRAL:
        course = [body.pt(*p) for p in pts]
        paint_tube(canvas, course, (outer + 4) * r, MEDIASTINAL_FAT_HU, Tissue.MEDIASTINAL_FAT, onto=LUNGS)
        paint_tube(canvas, course, outer * r, 60.0, label, lumen=lumen * r)


def draw_lung_trees(canvas: Canvas, body: Body, patient: Patient, rng) -> list[Branch]:
    """Per segment a bronchus (3 generations) with its artery (6 generations); veins from the hila.

    Returns the intrapulmonary airway branches (used to draw airway findings).
    """
    s = float(np.sqrt(body.cx * body.cy))
    vein_hu = patient.blood_hu * (0.75 if patient.contrast else 1.0)
    groups = {}   # (lung label, HU) -> list of tree arrays
    airways = []
    for start, side, lobe, directions in _LOBES:
        lung = Tissue.LUNG_RIGHT if side == "right" else Tissue.LUNG_LEFT
        for seg_dir in directions:
            seg_dir = _unit(_unit(seg_dir) + rng.normal(0, 0.12, size=3))
            offset = _unit(np.cross(seg_dir, (0.0, 0.0, 1.0)) + 1e-3) * 5.0 * s
            tree = grow_tree(rng, body.pt(*start), seg_dir, 22 * s, 4.5 * s, 6)
            groups.setdefault((lung, patient.blood_hu), []).append(tree)
            airways += [Branch(p0 + offset, p1 + offset, 0.65 * r, 1.0, int(g), side, lobe)
                        for p0, p1, r, g in zip(*tree) if g < 3]
    for start, direction in _VEIN_ROOTS:
        lung = Tissue.LUNG_RIGHT if start[0] < 0 else Tissue.LUNG_LEFT
        for seg_dir in _spread(rng, direction, 2):
            groups.setdefault((lung, vein_hu), []).append(grow_tree(rng, body.pt(*start), seg_dir, 24 * s, 5.0 * s, 6))
    for lung in (Tissue.LUNG_RIGHT, Tissue.LUNG_LEFT):
        hilum = body.pt(-45 if lung == Tissue.LUNG_RIGHT else 45, 18, -25)
        groups.setdefault((lung, patient.blood_hu), []).append(_peripheral_vessels(canvas, lung, hilum, rng))
    paint_airways(canvas, airways)
    for (lung, hu), trees in groups.items():
        p0, p1, r, _ = (np.concatenate(x) for x in zip(*trees))
        canvas.paint_flat(tube_voxels(canvas.grid, p0, p1, r), hu, onto=(lung,))
    return airways


def _peripheral_vessels(canvas: Canvas, lung: int, hilum, rng, per_ml: float = 0.6):
    """Short vessel segments scattered through one lung, pointing away from the hilum and
    thinner with distance from it (the small peripheral vessels the trees do not reach)."""
    idx = np.flatnonzero(canvas.lab == lung)
    n = int(len(idx) * canvas.grid.voxel_mm3 / 1000 * per_ml)
    pick = idx[rng.integers(0, len(idx), size=n)]
    mid = canvas.grid.point(*np.unravel_index(pick, canvas.grid.shape))
    away = mid - hilum
    dist = np.linalg.norm(away, axis=1, keepdims=True)
    d = away / dist + rng.normal(0, 0.3, size=away.shape)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    half = rng.uniform(5, 11, size=(n, 1))
    radius = np.clip(3.2 * np.exp(-dist[:, 0] / 70), 1.2, None)
    return mid - d * half, mid + d * half, radius, np.full(n, 9)


def paint_airways(canvas: Canvas, branches, wall_hu: float = WALL_HU, restore=()) -> tuple | None:
    """Paint intrapulmonary airways into their own lungs: all walls first, then the lumens inside
    those walls (also of the ``restore`` branches, where a thick new wall covered them).

    Returns the voxel bbox of the painted walls.
    """
    painted = [np.zeros(0, dtype=np.int64)]
    for side, lung in (("right", Tissue.LUNG_RIGHT), ("left", Tissue.LUNG_LEFT)):
        sel = [b for b in branches if b.side == side]
        if sel:
            idx = _airway_voxels(canvas, sel, wall=True)
            painted.append(canvas.paint_flat(idx, wall_hu, Tissue.BRONCHI, onto=(lung, Tissue.BRONCHI)))
    walls = np.concatenate(painted)
    lumens = _airway_voxels(canvas, [*branches, *restore], wall=False) if branches else walls
    canvas.paint_flat(np.intersect1d(lumens, walls), -1000.0, Tissue.BRONCHI)
    return bbox_flat(walls, canvas.grid.shape)


def _airway_voxels(canvas: Canvas, branches, wall: bool) -> np.ndarray:
    p0 = np.array([b.p0 for b in branches])
    p1 = np.array([b.p1 for b in branches])
    r = np.array([b.lumen + (b.wall if wall else 0.0) for b in branches])
    return tube_voxels(canvas.grid, p0, p1, r)
