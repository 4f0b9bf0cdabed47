"""Diffuse lung findings: emphysema, mosaic attenuation, interlobular septal thickening."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.phantoms.anatomy import Anatomy
from ctrg_desktop.data.phantoms.finding import Detail, balls, flat_bbox, min_size
from ctrg_desktop.data.phantoms.geometry import bbox_of
from ctrg_desktop.data.phantoms.labelmap import LUNGS

EMPHYSEMA_HU = -1000.0
#: Share of lung voxels destroyed by emphysema, by severity.
EMPHYSEMA_SHARE = {"mild": (0.03, 0.05), "moderate": (0.07, 0.11), "severe": (0.14, 0.2)}


def _lung_sample(anat: Anatomy, rng, n: int) -> np.ndarray:
    """``n`` random points (n, 3) mm over both lungs (normal anatomy)."""
    idx = np.concatenate([anat.lung_voxels("right"), anat.lung_voxels("left")])
    pick = idx[rng.integers(0, len(idx), size=n)]
    return anat.grid.point(*np.unravel_index(pick, anat.grid.shape))


def _upper_weighted(anat: Anatomy, rng, pts: np.ndarray, peripheral: bool) -> np.ndarray:
    z = pts[:, 2]
    keep = rng.random(len(pts)) < 1 / (1 + np.exp(-(z - np.median(z)) / 25))
    if peripheral:
        a, b = anat.body.cavity(z)
        rho = np.hypot(pts[:, 0] / a, (pts[:, 1] - anat.body.y_c) / b)
        keep &= rho > 0.82
    return pts[keep]


def draw_emphysema(anat: Anatomy, rng) -> list[Detail]:
    """Low-attenuation holes (-1000 HU), upper zones first, about a target share of the lungs.

    The holes depend only on the normal anatomy (not on other findings), so adding or removing
    another finding never moves them; the final share is measured on the finished image.
    """
    severity = str(rng.choice(list(EMPHYSEMA_SHARE), p=[0.55, 0.3, 0.15]))
    kind = "paraseptal" if rng.random() < 0.25 else "centrilobular"
    n_lung = len(anat.lung_voxels("right")) + len(anat.lung_voxels("left"))
    target = rng.uniform(*EMPHYSEMA_SHARE[severity]) * n_lung
    r_min = max(3.0, min_size(anat, 1.0))
    pts = _upper_weighted(anat, rng, _lung_sample(anat, rng, 12000), kind == "paraseptal")
    radii = rng.uniform(r_min, 2 * r_min, size=len(pts))
    hole_vox = 4 / 3 * np.pi * radii ** 3 / anat.grid.voxel_mm3
    n = int(np.searchsorted(np.cumsum(hole_vox), 1.3 * target)) + 1
    idx = anat.canvas.paint_flat(balls(anat, pts[:n], radii[:n]), EMPHYSEMA_HU, onto=LUNGS, below=-700)
    return [Detail("Emphysema", "lung", "bilateral", "upper lobes", None, flat_bbox(anat, idx),
                   severity=severity, extra={"kind": kind, "drawn_share": round(len(idx) / n_lung, 4)})]


def measure_emphysema(anat: Anatomy, details: list[Detail]) -> None:
    """On the final image: the share of lung voxels under -950 HU and the severity it implies."""
    lungs = anat.canvas.has(LUNGS)
    share = float(np.count_nonzero(anat.canvas.hu[lungs] < -950) / max(np.count_nonzero(lungs), 1))
    for d in details:
        d.severity = emphysema_severity(share)
        d.extra["share"] = round(share, 4)


def emphysema_severity(share: float) -> str:
    """Severity word for the share of lung voxels under -950 HU."""
    return "mild" if share < 0.05 else "moderate" if share < 0.1 else "severe"


def draw_mosaic(anat: Anatomy, rng) -> list[Detail]:
    """Geographic lobular areas of lower (-55 HU) and higher (+60 HU) attenuation in both lungs."""
    lung_ml = (len(anat.lung_voxels("right")) + len(anat.lung_voxels("left"))) * anat.grid.voxel_mm3 / 1000
    n = int(lung_ml * rng.uniform(0.012, 0.025))
    r_min = max(8.0, min_size(anat, 2))
    dark = balls(anat, _lung_sample(anat, rng, n), rng.uniform(r_min, 2 * r_min, size=n))
    dark = anat.canvas.paint_flat(dark, anat.patient.lung_hu - 55, onto=LUNGS, below=-700)
    bright = balls(anat, _lung_sample(anat, rng, n // 2), rng.uniform(r_min, 1.6 * r_min, size=n // 2))
    bright = anat.canvas.paint_flat(bright, anat.patient.lung_hu + 60, onto=LUNGS, below=-700)
    share = (len(dark) + len(bright)) / (lung_ml * 1000 / anat.grid.voxel_mm3)
    return [Detail("Mosaic attenuation pattern", "lung", "bilateral", "both lungs", None,
                   flat_bbox(anat, np.concatenate([dark, bright])), severity="mild" if share < 0.3 else "marked",
                   extra={"share": round(share, 3)})]


def draw_septal_thickening(anat: Anatomy, rng) -> list[Detail]:
    """A polygonal network of thickened septa (-250 HU lines, ~15 mm apart) in the subpleural lung."""
    lung = np.isin(anat.normal_labels, LUNGS)
    box = bbox_of(tuple(slice(0, n) for n in lung.shape), lung)
    sl = tuple(slice(box[a], box[a + 3]) for a in range(3))
    z, y, x = anat.grid.block(sl)
    lower_only = rng.random() < 0.6
    period, thick = rng.uniform(14, 20), max(1.5, 0.8 * max(anat.grid.spacing[1:]))
    net = np.zeros(np.broadcast_shapes(z.shape, y.shape), dtype=bool)
    for turn in rng.uniform(0, np.pi) + np.array([0, 1, 2]) * np.pi / 3:
        normal = (np.cos(turn), np.sin(turn), rng.uniform(-0.3, 0.3))
        wobble = 0.12 * np.sin(x / 11 + rng.uniform(0, 6)) + 0.12 * np.sin(y / 13 + z / 17 + rng.uniform(0, 6))
        phase = (x * normal[0] + y * normal[1] + z * normal[2]) / period + rng.random() + wobble
        net |= np.abs(phase - np.round(phase)) * period < thick / 2
    a, b = anat.body.cavity(z)
    rho = np.sqrt((x / a) ** 2 + ((y - anat.body.y_c) / b) ** 2)
    zone = (rho > 1 - 20 / a) | (z < anat.thorax.diaphragm_z(x, y) + 15)
    if lower_only:
        zone &= z < anat.grid.z[sl[0]].mean()
    painted = anat.canvas.paint(sl, net & zone, -350.0, onto=LUNGS, below=-700)
    return [Detail("Interlobular septal thickening", "lung", "bilateral",
                   "lower lobes" if lower_only else "both lungs", round(period), bbox_of(sl, painted),
                   extra={"zone": "subpleural"})]
