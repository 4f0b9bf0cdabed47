"""Normal chest anatomy of one patient: draws every organ in order and keeps the geometry
that abnormalities need (heart shape, aorta course, airway branches, lobes, lung voxels)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.data.phantoms import (
    abdomen,
    airways,
    heart,
    mediastinum,
    skeleton,
    thorax,
    vessels,
)
from ctrg_desktop.data.phantoms.body import Body, draw_body, draw_breasts
from ctrg_desktop.data.phantoms.canvas import Canvas
from ctrg_desktop.data.phantoms.geometry import Grid
from ctrg_desktop.data.phantoms.labelmap import Tissue
from ctrg_desktop.data.phantoms.patient import Patient


@dataclass
class Anatomy:
    """The drawn normal chest and its geometry (patient mm)."""

    grid: Grid
    canvas: Canvas
    patient: Patient
    body: Body
    thorax: thorax.Thorax
    heart: heart.HeartShape
    aorta: list                    # [(part, points (n, 3), radius)]
    esophagus: np.ndarray          # centreline (n, 3)
    airways: list                  # intrapulmonary airways.Branch
    normal_labels: np.ndarray      # label map before any abnormality (uint8, D x H x W)
    _lung_voxels: dict = field(default_factory=dict, repr=False)

    def lung_voxels(self, side: str) -> np.ndarray:
        """Sorted flat indices of the voxels of one lung in the normal label map."""
        if side not in self._lung_voxels:
            label = Tissue.LUNG_RIGHT if side == "right" else Tissue.LUNG_LEFT
            self._lung_voxels[side] = np.flatnonzero(self.normal_labels == label)
        return self._lung_voxels[side]


def build_anatomy(grid: Grid, patient: Patient, rng: np.random.Generator) -> Anatomy:
    """Draw the normal chest of ``patient`` on ``grid`` (order matters: later organs overwrite)."""
    canvas = Canvas(grid)
    body = Body(patient)
    thx = thorax.Thorax(body, patient)
    draw_body(canvas, body)
    draw_breasts(canvas, body, patient.breast_size)
    thorax.draw_thorax(canvas, thx, body.spine_y, patient.lung_hu)
    abdomen.draw_abdomen(canvas, body, thx, patient)
    branches = airways.draw_lung_trees(canvas, body, patient, rng)
    shape = heart.place_heart(body, thx, patient)
    heart.draw_heart(canvas, shape, patient)
    mediastinum.draw_esophagus(canvas, body, patient)
    vessels.draw_vessels(canvas, body, patient)
    airways.draw_central_airways(canvas, body)
    mediastinum.draw_thyroid(canvas, body, patient)
    mediastinum.draw_normal_nodes(canvas, body, rng)
    skeleton.draw_skeleton(canvas, body, patient)
    thorax.draw_pleura(canvas)
    return Anatomy(grid, canvas, patient, body, thx, shape, vessels.aorta_course(body),
                   mediastinum.esophagus_course(body), branches, canvas.lab.copy())
