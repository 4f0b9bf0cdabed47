"""Parenchymal findings: nodules, ground-glass opacity, consolidation, atelectasis, fibrotic bands."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.anatomy import Anatomy
from ctrg_desktop.data.phantoms.finding import (
    SIDES,
    Detail,
    balls,
    blob,
    flat_bbox,
    lobes_phrase,
    lung_label,
    lung_points,
    min_size,
    place_ball,
)
from ctrg_desktop.data.phantoms.geometry import bbox_of, ellipsoid
from ctrg_desktop.data.phantoms.labelmap import Tissue
from ctrg_desktop.data.phantoms.raster import tube_voxels


def _side(rng) -> str:
    return str(rng.choice(SIDES, p=[0.55, 0.45]))


def _lobe(anat: Anatomy, point, side: str) -> str:
    return f"{anat.thorax.lobe(np.asarray(point)[None], side)[0]} lobe"


def draw_nodules(anat: Anatomy, rng) -> list[Detail]:
    """1-3 solid nodules, 4-30 mm (never under 2.5 voxels), in random lobes."""
    details = []
    for _ in range(int(rng.choice([1, 2, 3], p=[0.6, 0.25, 0.15]))):
        d = float(np.round(np.clip(rng.lognormal(np.log(9), 0.5), max(4.0, min_size(anat, 2.5)), 30)))
        side = _side(rng)
        center = place_ball(anat, rng, d / 2, side)
        if center is None:
            continue
        sl, r2 = ellipsoid(anat.grid, center, (d / 2,) * 3)
        painted = anat.canvas.paint(sl, r2 <= 1, rng.uniform(25, 55), onto=(lung_label(side), Tissue.BRONCHI))
        details.append(Detail("Lung nodule", "lung", side, _lobe(anat, center, side), d, bbox_of(sl, painted),
                              extra={"center_mm": np.round(center, 1).tolist()}))
    return details


def draw_ground_glass(anat: Anatomy, rng) -> list[Detail]:
    """1-3 ground-glass patches (-600..-350 HU) that spare the vessels."""
    details = []
    for _ in range(int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))):
        side = _side(rng)
        pts = lung_points(anat, rng, 1, side)
        size = max(rng.uniform(18, 50), min_size(anat, 5))
        hu = rng.uniform(-600, -380)
        idx = anat.canvas.paint_flat(balls(anat, *blob(rng, pts[0], size)), hu, onto=(lung_label(side),), below=-650)
        details.append(Detail("Lung opacity", "lung", side, _lobe(anat, pts[0], side), round(size),
                              flat_bbox(anat, idx), extra={"hu": round(hu), "kind": "ground-glass"}))
    return details


def draw_consolidation(anat: Anatomy, rng) -> list[Detail]:
    """1-2 dense (25-45 HU) consolidations, mostly in the lower lobes; bronchi inside stay aerated."""
    details = []
    for _ in range(int(rng.choice([1, 2], p=[0.7, 0.3]))):
        side = _side(rng)
        lobes = ("lower",) if rng.random() < 0.7 else None
        pts = lung_points(anat, rng, 1, side, lobes) if lobes else lung_points(anat, rng, 1, side)
        size = max(rng.uniform(25, 60), min_size(anat, 6))
        idx = balls(anat, *blob(rng, pts[0], size, parts=5))
        bronchogram = int(np.count_nonzero(anat.canvas.lab.ravel()[idx] == Tissue.BRONCHI))
        idx = anat.canvas.paint_flat(idx, rng.uniform(25, 45), onto=(lung_label(side),))
        details.append(Detail("Consolidation", "lung", side, _lobe(anat, pts[0], side), round(size),
                              flat_bbox(anat, idx), extra={"air_bronchogram": bronchogram >= 3}))
    return details


def draw_atelectasis(anat: Anatomy, rng) -> list[Detail]:
    """1-2 plate-like bands (near-horizontal, a few mm thick) in the posterior lower lobes."""
    details = []
    for _ in range(int(rng.choice([1, 2], p=[0.7, 0.3]))):
        side = _side(rng)
        pts = lung_points(anat, rng, 30, side, ("lower",), "lower")
        if len(pts) == 0:
            continue
        center = pts[np.argmax(pts[:, 1])] if rng.random() < 0.5 else pts[0]
        u = np.array([1.0, rng.uniform(-0.6, 0.6), rng.uniform(-0.25, 0.25)])
        u /= np.linalg.norm(u)
        w = np.array([0.0, 0.0, 1.0]) - u[2] * u
        w /= np.linalg.norm(w)
        axes = np.stack([u, np.cross(w, u), w], axis=1)
        length = rng.uniform(30, 65)
        width = max(rng.uniform(7, 14), min_size(anat, 1.2))
        radii = (length / 2, width, max(rng.uniform(2.5, 4), min_size(anat, 0.75)))
        sl, r2 = ellipsoid(anat.grid, center, radii, axes)
        painted = anat.canvas.paint(sl, r2 <= 1, rng.uniform(5, 40), onto=(lung_label(side),))
        if painted is None or not painted.any():
            continue
        details.append(Detail("Atelectasis", "lung", side, _lobe(anat, center, side), round(length),
                              bbox_of(sl, painted), extra={"kind": "linear"}))
    return details


def draw_fibrotic_bands(anat: Anatomy, rng) -> list[Detail]:
    """2-5 thin fibrotic bands (-40..20 HU) running from the parenchyma towards the pleura."""
    side = _side(rng)
    zone = "upper" if rng.random() < 0.6 else None
    pts = lung_points(anat, rng, int(rng.integers(2, 6)), side, zone=zone)
    lung_center = anat.grid.point(*np.unravel_index(anat.lung_voxels(side)[::50], anat.grid.shape)).mean(0)
    out = pts - lung_center
    out[:, 2] *= 0.3
    out = out / np.linalg.norm(out, axis=1, keepdims=True) + rng.normal(0, 0.25, size=out.shape)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    lengths = rng.uniform(20, 45, size=len(pts))
    radius = max(1.6, min_size(anat, 0.9))
    idx = tube_voxels(anat.grid, pts, pts + out * lengths[:, None], np.full(len(pts), radius))
    idx = anat.canvas.paint_flat(idx, rng.uniform(-40, 20), onto=(lung_label(side),))
    lobes = sorted(set(anat.thorax.lobe(pts, side)))
    return [Detail("Pulmonary fibrotic sequela", "lung", side, lobes_phrase(lobes), round(float(lengths.max())),
                   flat_bbox(anat, idx), extra={"bands": len(pts)})]
