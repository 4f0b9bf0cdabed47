"""Pleural effusion, hiatal hernia and mediastinal lymphadenopathy."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.anatomy import Anatomy
from ctrg_desktop.data.phantoms.finding import Detail, lung_label, min_size
from ctrg_desktop.data.phantoms.geometry import bbox_of, ellipsoid
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.mediastinum import NODE_ONTO, NODE_STATIONS

#: Effusion amount -> (max thickness mm, height above the lung base mm) ranges.
EFFUSION = {"small": ((8, 18), (30, 55)), "moderate": ((20, 35), (60, 95)), "large": ((40, 60), (100, 150))}


def draw_pleural_effusion(anat: Anatomy, rng) -> list[Detail]:
    """Dependent fluid (5-20 HU) replacing the posterior lung base of one or both sides."""
    sides = (("right",), ("left",), ("right", "left"))[int(rng.choice(3, p=[0.4, 0.25, 0.35]))]
    details = []
    for side in sides:
        amount = str(rng.choice(list(EFFUSION), p=[0.55, 0.3, 0.15]))
        (t_lo, t_hi), (h_lo, h_hi) = EFFUSION[amount]
        thick, height = max(rng.uniform(t_lo, t_hi), min_size(anat, 2.5)), rng.uniform(h_lo, h_hi)
        lung = anat.canvas.lab == lung_label(side)
        rows = lung.shape[1]
        back = rows - 1 - np.argmax(lung[:, ::-1, :], axis=1)                 # (D, W) last lung row
        z = anat.grid.z
        base = z[np.flatnonzero(lung.any(axis=(1, 2)))[0]]
        t = thick * np.clip((base + height - z) / height, 0, 1) ** 0.6         # (D,) mm
        depth = (back[:, None, :] - np.arange(rows)[None, :, None]) * anat.grid.spacing[1]
        fluid = lung & (depth < t[:, None, None])
        anat.canvas.hu[fluid] = rng.uniform(5, 20)
        anat.canvas.lab[fluid] = Tissue.PLEURA
        volume = float(fluid.sum() * anat.grid.voxel_mm3 / 1000)
        whole = tuple(slice(0, n) for n in fluid.shape)
        details.append(Detail("Pleural effusion", "pleura", side, "posterior costophrenic recess", round(thick),
                              bbox_of(whole, fluid), severity=amount, extra={"volume_ml": round(volume, 1)}))
    return details


def draw_hiatal_hernia(anat: Anatomy, rng) -> list[Detail]:
    """A gastric sac (gas over fluid, soft-tissue wall) above the hiatus, behind the heart."""
    size = str(rng.choice(["small", "moderate", "large"], p=[0.5, 0.35, 0.15]))
    r = max(rng.uniform(*{"small": (11, 16), "moderate": (16, 24), "large": (24, 32)}[size]), min_size(anat, 2))
    x = 10 * anat.body.cx
    _, aorta, aorta_r = anat.aorta[-1]
    z = float(anat.thorax.diaphragm_z(x, 0.0)) + 1.1 * r + 4
    aorta_y = np.interp(z, aorta[::-1, 2], aorta[::-1, 1])
    y = aorta_y - aorta_r - 0.85 * r - 2
    center = np.array([x, y, float(anat.thorax.diaphragm_z(x, y)) + 1.1 * r + 4])
    radii = (r, 0.85 * r, 1.1 * r)
    onto = (Tissue.MEDIASTINAL_FAT, Tissue.PLEURA, Tissue.ESOPHAGUS, Tissue.PERICARDIUM, Tissue.HEART,
            Tissue.LYMPH_NODE, Tissue.BRONCHI, *LUNGS)
    sl, r2 = ellipsoid(anat.grid, center, radii)
    sac = anat.canvas.paint(sl, r2 <= 1, 40.0, Tissue.STOMACH, onto=onto)
    inner = sac & (r2 <= (1 - 3.0 / r) ** 2)
    zz = anat.grid.block(sl)[0]
    anat.canvas.paint(sl, inner & (zz > center[2]), -1000.0)
    anat.canvas.paint(sl, inner & (zz <= center[2]), 20.0)
    return [Detail("Hiatal hernia", "esophagus", None, "posterior mediastinum", round(2 * r), bbox_of(sl, sac),
                   severity=size)]


def draw_lymphadenopathy(anat: Anatomy, rng) -> list[Detail]:
    """1-3 enlarged nodes (short axis 11-25 mm) at distinct mediastinal/hilar stations, each put
    where it overlaps other organs least; the reported short axis is measured on the drawing."""
    stations = list(rng.permutation(sorted(NODE_STATIONS)))
    details = []
    for _ in range(int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))):
        short = max(rng.uniform(11, 25), min_size(anat, 2.5))
        radii = (short / 2, short / 2, short / 2 * rng.uniform(1.2, 1.6))
        free, name, sl, r2 = max((_free_spot(anat, rng, st, radii) for st in stations), key=lambda c: c[0])
        stations.remove(name)
        painted = anat.canvas.paint(sl, r2 <= 1, 40.0, Tissue.LYMPH_NODE, onto=NODE_ONTO)
        area = painted.sum(axis=(1, 2)).max() * anat.grid.spacing[1] * anat.grid.spacing[2]
        details.append(Detail("Lymphadenopathy", "mediastinum and heart", _node_side(name), str(name),
                              round(float(2 * np.sqrt(area / np.pi))), bbox_of(sl, painted),
                              extra={"drawn_short_axis_mm": round(short, 1), "free_share": round(free, 2)}))
    return details


def _free_spot(anat: Anatomy, rng, station: str, radii):
    """(share of the node over free tissue, station, slices, r2) of the best of 12 jittered spots."""
    best = (-1.0, station, None, None)
    for _ in range(12):
        center = anat.body.pt(*NODE_STATIONS[station]) + rng.uniform(-12, 12, size=3)
        sl, r2 = ellipsoid(anat.grid, center, radii)
        if sl is None:
            continue
        inside = r2 <= 1
        free = np.count_nonzero(inside & anat.canvas.has(NODE_ONTO, sl)) / max(np.count_nonzero(inside), 1)
        best = max(best, (free, station, sl, r2), key=lambda c: c[0])
    return best


def _node_side(station: str) -> str | None:
    return "right" if station.startswith("right") else "left" if station.startswith("left") else None
