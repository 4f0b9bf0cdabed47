"""Cardiovascular findings: cardiomegaly, pericardial effusion, aortic and coronary calcification."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.anatomy import Anatomy
from ctrg_desktop.data.phantoms.finding import Detail, balls, flat_bbox, min_size
from ctrg_desktop.data.phantoms.geometry import bbox_of
from ctrg_desktop.data.phantoms.labelmap import LUNGS, Tissue
from ctrg_desktop.data.phantoms.patient import Patient

MEDIASTINUM = "mediastinum and heart"
CALCIUM_HU = (900.0, 1300.0)


def cardiothoracic_ratio(labels: np.ndarray, spacing) -> tuple[float, float]:
    """(CTR, widest heart width in mm): widest heart / widest lung-to-lung width, over all slices."""
    def widest(mask):
        cols = mask.any(axis=1)                                # (D, W)
        first = np.where(cols.any(1), cols.argmax(1), 0)
        last = np.where(cols.any(1), cols.shape[1] - 1 - cols[:, ::-1].argmax(1), -1)
        return float((last - first + 1).max()) * spacing[2]
    heart = widest(labels == Tissue.HEART)
    return heart / widest(np.isin(labels, LUNGS)), heart


def _whole(labels) -> tuple[slice, ...]:
    return tuple(slice(0, n) for n in labels.shape)


def enlarge_heart(patient: Patient, rng) -> None:
    patient.ctr = rng.uniform(0.55, 0.66)


def describe_cardiomegaly(anat: Anatomy, rng) -> list[Detail]:
    ctr, width = cardiothoracic_ratio(anat.normal_labels, anat.grid.spacing)
    heart = anat.normal_labels == Tissue.HEART
    return [Detail("Cardiomegaly", MEDIASTINUM, None, "heart", round(width), bbox_of(_whole(heart), heart),
                   severity="mild" if ctr < 0.6 else "moderate", extra={"ctr": round(ctr, 3)})]


def add_pericardial_fluid(patient: Patient, rng) -> None:
    patient.pericardial_fluid_mm = rng.uniform(6, 20)


def describe_pericardial_effusion(anat: Anatomy, rng) -> list[Detail]:
    t = anat.patient.pericardial_fluid_mm
    sac = anat.normal_labels == Tissue.PERICARDIUM
    return [Detail("Pericardial effusion", MEDIASTINUM, None, "pericardium", round(t), bbox_of(_whole(sac), sac),
                   severity="minimal" if t < 10 else "moderate")]


def _plaques(anat: Anatomy, rng, points: np.ndarray, onto, count: int) -> np.ndarray:
    """Paint ``count`` calcified plaques (balls >= 0.8 voxel radius) centred on ``points``."""
    pick = points[rng.choice(len(points), size=count, replace=len(points) < count)]
    radii = rng.uniform(1.0, 1.4, size=count) * max(2.0, min_size(anat, 0.8))
    return anat.canvas.paint_flat(balls(anat, pick, radii), rng.uniform(*CALCIUM_HU), onto=onto)


def draw_aortic_calcification(anat: Anatomy, rng) -> list[Detail]:
    """Calcified plaques on the inner aortic wall (arch and descending aorta mostly)."""
    severity = str(rng.choice(["mild", "moderate", "marked"], p=[0.5, 0.35, 0.15]))
    count = int(rng.integers(*{"mild": (2, 5), "moderate": (5, 10), "marked": (10, 17)}[severity]))
    parts = [p for p in anat.aorta if p[0] != "ascending aorta" or rng.random() < 0.3]
    keep = rng.choice(len(parts), size=min(len(parts), int(rng.integers(1, 3))), replace=False)
    parts = [parts[n] for n in sorted(keep)]
    wall = []
    for _, course, radius in parts:
        t = rng.random(200)
        seg = rng.integers(0, len(course) - 1, size=200)
        centre = course[seg] + (course[seg + 1] - course[seg]) * t[:, None]
        normal = np.cross(course[seg + 1] - course[seg], rng.normal(size=(200, 3)))
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        wall.append(centre + normal * (radius - 1.0))
    idx = _plaques(anat, rng, np.concatenate(wall), (Tissue.AORTA,), count)
    return [Detail("Arterial wall calcification", MEDIASTINUM, None, " and ".join(p[0] for p in parts), None,
                   flat_bbox(anat, idx), severity=severity, extra={"plaques": count})]


def draw_coronary_calcification(anat: Anatomy, rng) -> list[Detail]:
    """Calcified plaques along the LAD, circumflex and right coronary courses on the heart surface."""
    severity = str(rng.choice(["minimal", "mild", "prominent"], p=[0.4, 0.4, 0.2]))
    count = int(rng.integers(*{"minimal": (1, 3), "mild": (3, 7), "prominent": (7, 13)}[severity]))
    names = ["LAD"] + [n for n in ("LCX", "RCA") if rng.random() < 0.5]
    inset = 0.6 * max(2.0, min_size(anat, 0.8))
    points = np.concatenate([anat.heart.coronary(n, inset=inset) for n in names])
    idx = _plaques(anat, rng, points, (Tissue.HEART,), count)
    return [Detail("Coronary artery wall calcification", MEDIASTINUM, None, ", ".join(names), None,
                   flat_bbox(anat, idx), severity=severity, extra={"plaques": count, "arteries": names})]
