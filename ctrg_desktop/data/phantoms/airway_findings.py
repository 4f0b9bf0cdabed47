"""Airway findings: bronchiectasis (dilated, non-tapering bronchi) and peribronchial thickening."""

from __future__ import annotations

import dataclasses

import numpy as np

from ctrg_desktop.data.phantoms.airways import paint_airways
from ctrg_desktop.data.phantoms.anatomy import Anatomy
from ctrg_desktop.data.phantoms.finding import (
    Detail,
    lobes_phrase,
    lung_label,
    min_size,
)
from ctrg_desktop.data.phantoms.labelmap import Tissue


def _side_choice(rng) -> tuple[str, ...]:
    return (("right",), ("left",), ("right", "left"))[int(rng.choice(3, p=[0.4, 0.3, 0.3]))]


def _side_word(sides) -> str:
    return sides[0] if len(sides) == 1 else "bilateral"


def draw_bronchiectasis(anat: Anatomy, rng) -> list[Detail]:
    """2-5 segmental bronchi (lower lobes mostly) widened 2-3x, thick-walled and not tapering."""
    sides = _side_choice(rng)
    lobes = ("lower",) if rng.random() < 0.7 else ("upper", "middle", "lower")
    pool = [b for b in anat.airways if b.side in sides and b.lobe in lobes and b.generation >= 1
            and _in_lung(anat, b)]
    pick = rng.choice(len(pool), size=min(len(pool), int(rng.integers(3, 6))), replace=False)
    kind = "cystic" if rng.random() < 0.2 else "cylindrical"
    lumen_min = min_size(anat, 1.5)
    wide = []
    for n in sorted(pick):
        b = pool[n]
        lumen = max(b.lumen * rng.uniform(2.2, 3.2), lumen_min)
        wide.append(dataclasses.replace(b, p1=b.p0 + 1.4 * (b.p1 - b.p0), lumen=lumen, wall=max(1.5, 0.4 * lumen)))
        if kind == "cystic":
            wide.append(dataclasses.replace(wide[-1], p0=wide[-1].p1, lumen=1.6 * lumen))
    bbox = paint_airways(anat.canvas, wide, restore=anat.airways)
    used = sorted({b.lobe for b in wide})
    width = round(2 * max(b.lumen for b in wide))
    return [Detail("Bronchiectasis", "lung", _side_word(sides), lobes_phrase(used), width, bbox,
                   extra={"kind": kind, "bronchi": len(pick)})]


def _in_lung(anat: Anatomy, b) -> bool:
    """Both the middle and the far end of the branch lie in its lung (normal anatomy)."""
    labels = (lung_label(b.side), Tissue.BRONCHI)
    for p in (0.5 * (b.p0 + b.p1), b.p1):
        k, j, i = np.round(anat.grid.index(p)).astype(int)
        if not (0 <= k < anat.grid.shape[0] and 0 <= j < anat.grid.shape[1] and 0 <= i < anat.grid.shape[2]):
            return False
        if anat.normal_labels[k, j, i] not in labels:
            return False
    return True


def draw_peribronchial_thickening(anat: Anatomy, rng) -> list[Detail]:
    """Thick (>= 2.5 mm, at least a voxel) walls on the segmental bronchi of one or both lungs."""
    sides = _side_choice(rng)
    lower = rng.random() < 0.5
    pool = [b for b in anat.airways if b.side in sides and (b.lobe == "lower" or not lower)]
    wall = max(rng.uniform(2.5, 3.5), min_size(anat, 1.0))
    thick = [dataclasses.replace(b, wall=wall) for b in pool]
    bbox = paint_airways(anat.canvas, thick, wall_hu=35.0, restore=anat.airways)
    return [Detail("Peribronchial thickening", "lung", _side_word(sides), "lower lobes" if lower else "all lobes",
                   round(wall, 1), bbox, extra={"bronchi": len(pool)})]
