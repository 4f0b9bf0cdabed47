"""What an abnormality drawing records (:class:`Detail`) and the placement helpers they share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.data.phantoms.anatomy import Anatomy
from ctrg_desktop.data.phantoms.geometry import bbox_flat, ellipsoid
from ctrg_desktop.data.phantoms.labelmap import Tissue
from ctrg_desktop.data.phantoms.raster import tube_voxels

SIDES = ("right", "left")


@dataclass
class Detail:
    """One drawn abnormality: CT-RATE label, model structure, where, how big, voxel bbox.

    ``bbox`` is ``(k0, j0, i0, k1, j1, i1)`` voxel indices, stop exclusive.
    """

    label: str
    structure: str
    side: str | None
    location: str
    size_mm: float | None
    bbox: tuple[int, ...] | None
    severity: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["bbox"] = list(self.bbox) if self.bbox else None
        return d


def lung_label(side: str) -> int:
    return Tissue.LUNG_RIGHT if side == "right" else Tissue.LUNG_LEFT


def min_size(anat: Anatomy, voxels: float) -> float:
    """``voxels`` times the coarsest voxel spacing (mm): the smallest size worth drawing."""
    return voxels * max(anat.grid.spacing)


def lung_points(anat: Anatomy, rng, n: int, side: str, lobes=None, zone: str | None = None) -> np.ndarray:
    """Up to ``n`` random points (n, 3) mm in one lung (normal anatomy), optionally limited to
    ``lobes`` and to a ``zone`` ("upper" or "lower" half of the lung height)."""
    idx = anat.lung_voxels(side)
    pick = idx[rng.integers(0, len(idx), size=max(20 * n, 200))]
    k, j, i = np.unravel_index(pick, anat.grid.shape)
    pts = anat.grid.point(k, j, i)
    keep = np.ones(len(pts), dtype=bool)
    if lobes is not None:
        keep &= np.isin(anat.thorax.lobe(pts, side), list(lobes))
    if zone is not None:
        zs = anat.grid.z[np.unravel_index(idx[[0, -1]], anat.grid.shape)[0]]
        mid = 0.5 * (zs[0] + zs[1])
        keep &= (pts[:, 2] > mid) if zone == "upper" else (pts[:, 2] <= mid)
    return pts[keep][:n]


def place_ball(anat: Anatomy, rng, radius: float, side: str, lobes=None, zone=None, inside: float = 0.9):
    """A centre (3,) mm where a ball of ``radius`` lies at least ``inside`` within the lung
    (both in the normal anatomy and now); None if no such place was found."""
    lung = lung_label(side)
    for center in lung_points(anat, rng, 40, side, lobes, zone):
        sl, r2 = ellipsoid(anat.grid, center, (radius,) * 3)
        if sl is None:
            continue
        ball = r2 <= 1
        now = anat.canvas.has((lung, Tissue.BRONCHI), sl)
        ok = ball & (anat.normal_labels[sl] == lung) & now
        if ok.sum() >= inside * ball.sum() > 0:
            return center
    return None


def balls(anat: Anatomy, centers, radii) -> np.ndarray:
    """Flat voxel indices inside any of the balls (centres (n, 3) mm, radii (n,) mm)."""
    c = np.atleast_2d(np.asarray(centers, float))
    return tube_voxels(anat.grid, c, c, np.broadcast_to(np.asarray(radii, float), len(c)))


def blob(rng, center, size: float, parts: int = 4):
    """An irregular blob about ``size`` mm across: ``parts`` overlapping balls (centres, radii)."""
    offsets = rng.normal(0, size / 6, size=(parts, 3))
    return np.asarray(center) + offsets, rng.uniform(size / 4, size / 2.6, size=parts)


def lobes_phrase(lobes) -> str:
    """``["lower"]`` -> "lower lobe"; ``["lower", "middle"]`` -> "lower and middle lobes"."""
    lobes = list(lobes)
    return " and ".join(lobes) + (" lobes" if len(lobes) > 1 else " lobe")


def flat_bbox(anat: Anatomy, idx) -> tuple[int, ...] | None:
    return bbox_flat(np.asarray(idx), anat.grid.shape)
