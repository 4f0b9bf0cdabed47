"""The voxel grid in patient millimetres and bbox-limited solid primitives.

Patient frame (mm): X towards the patient's left, Y posterior, Z superior, origin on the body axis
at the height of the carina. :class:`Grid` maps voxel ``[k, j, i]`` of a canonical LPS volume to
that frame through a rotation about Z and an in-plane shift (how the patient lies on the table)
and a Z shift (where the scan starts). Primitives return ``(slices, field)``: the voxel block
that bounds the solid and a field on it (squared normalised radius or distance in mm), so
callers threshold it for solids, shells or walls without touching the rest of the volume.
"""

from __future__ import annotations

import math

import numpy as np

Slices = tuple[slice, slice, slice]
_CORNERS = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=float)


class Grid:
    """Patient coordinates of every voxel: ``z`` (D,), ``y`` and ``x`` (H, W), float32 mm."""

    def __init__(self, shape, spacing, angle_deg: float = 0.0, shift=(0.0, 0.0), z_center: float = 0.0):
        self.shape = tuple(int(n) for n in shape)
        self.spacing = tuple(float(s) for s in spacing)
        self.shift = (float(shift[0]), float(shift[1]))
        self.z_center = float(z_center)
        self._cos, self._sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
        d, h, w = self.shape
        sk, sj, si = self.spacing
        pi = (np.arange(w) - (w - 1) / 2) * si - self.shift[0]
        pj = (np.arange(h) - (h - 1) / 2) * sj - self.shift[1]
        self.x = (self._cos * pi[None, :] + self._sin * pj[:, None]).astype(np.float32)
        self.y = (-self._sin * pi[None, :] + self._cos * pj[:, None]).astype(np.float32)
        self.z = ((np.arange(d) - (d - 1) / 2) * sk + self.z_center).astype(np.float32)

    @property
    def voxel_mm3(self) -> float:
        return float(np.prod(self.spacing))

    def index(self, xyz) -> np.ndarray:
        """Patient points ``(..., 3)`` (X, Y, Z mm) to fractional voxel indices ``(..., 3)`` (k, j, i)."""
        p = np.asarray(xyz, dtype=np.float64)
        d, h, w = self.shape
        sk, sj, si = self.spacing
        pi = self._cos * p[..., 0] - self._sin * p[..., 1] + self.shift[0]
        pj = self._sin * p[..., 0] + self._cos * p[..., 1] + self.shift[1]
        pk = p[..., 2] - self.z_center
        return np.stack([pk / sk + (d - 1) / 2, pj / sj + (h - 1) / 2, pi / si + (w - 1) / 2], -1)

    def point(self, k, j, i) -> np.ndarray:
        """Patient (X, Y, Z) mm of voxel centres (integer index arrays broadcast)."""
        return np.stack(np.broadcast_arrays(self.x[j, i], self.y[j, i], self.z[k]), -1)

    def box(self, lo, hi, pad: int = 1) -> Slices | None:
        """Voxel slices covering the patient-frame box ``lo``..``hi`` (XYZ mm); None if outside."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        idx = self.index(lo + (hi - lo) * _CORNERS)
        start = np.maximum(np.floor(idx.min(0)).astype(int) - pad, 0)
        stop = np.minimum(np.ceil(idx.max(0)).astype(int) + pad + 1, self.shape)
        if np.any(stop <= start):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(start, stop))

    def block(self, sl: Slices | None = None):
        """Broadcastable ``(Z (n,1,1), Y (1,h,w), X (1,h,w))`` patient coordinates of a block."""
        sl = sl or (slice(None),) * 3
        return self.z[sl[0], None, None], self.y[None, sl[1], sl[2]], self.x[None, sl[1], sl[2]]


def ellipsoid(grid: Grid, center, radii, axes=None, pad: int = 1):
    """Squared normalised radius (< 1 inside) of an ellipsoid on its block.

    ``axes`` (3, 3): columns are the ellipsoid's unit axes in patient XYZ (identity if None).
    Off the grid: ``(None, inf)``.
    """
    c, r = np.asarray(center, float), np.asarray(radii, float)
    a = np.eye(3) if axes is None else np.asarray(axes, float)
    half = np.sqrt(((a * r) ** 2).sum(axis=1))
    sl = grid.box(c - half, c + half, pad)
    if sl is None:  # off the grid: nothing is inside (inf keeps ``r2 <= 1`` masks empty)
        return None, np.float32(np.inf)
    z, y, x = grid.block(sl)
    dx, dy, dz = x - np.float32(c[0]), y - np.float32(c[1]), z - np.float32(c[2])
    r2 = 0.0
    for n in range(3):
        u = dx * np.float32(a[0, n]) + dy * np.float32(a[1, n]) + dz * np.float32(a[2, n])
        r2 = r2 + (u / np.float32(r[n])) ** 2
    return sl, r2


def segment(grid: Grid, p0, p1, reach: float):
    """Distance (mm) to the segment ``p0``-``p1`` on the block within ``reach`` mm of it."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    sl = grid.box(np.minimum(p0, p1) - reach, np.maximum(p0, p1) + reach)
    if sl is None:
        return None, None
    z, y, x = grid.block(sl)
    v = p1 - p0
    dx, dy, dz = x - np.float32(p0[0]), y - np.float32(p0[1]), z - np.float32(p0[2])
    t = (dx * np.float32(v[0]) + dy * np.float32(v[1]) + dz * np.float32(v[2])) / np.float32(max(v @ v, 1e-9))
    t = np.clip(t, 0, 1)
    d2 = (dx - t * np.float32(v[0])) ** 2 + (dy - t * np.float32(v[1])) ** 2 + (dz - t * np.float32(v[2])) ** 2
    return sl, np.sqrt(d2)


def frame(direction) -> np.ndarray:
    """(3, 3) orthonormal axes whose first column is ``direction`` (a vector in patient XYZ)."""
    u = np.asarray(direction, float)
    u = u / np.linalg.norm(u)
    helper = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    v = np.cross(u, helper)
    v /= np.linalg.norm(v)
    return np.stack([u, v, np.cross(u, v)], axis=1)


def bbox_of(sl: Slices, mask: np.ndarray) -> tuple[int, ...] | None:
    """Voxel bbox ``(k0, j0, i0, k1, j1, i1)`` (stop exclusive) of a block mask, None if empty."""
    if sl is None or not mask.any():
        return None
    lo, hi = [], []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        lo.append(sl[axis].start + int(hit[0]))
        hi.append(sl[axis].start + int(hit[-1]) + 1)
    return (*lo, *hi)


def bbox_flat(idx: np.ndarray, shape) -> tuple[int, ...] | None:
    """Voxel bbox ``(k0, j0, i0, k1, j1, i1)`` of flat indices, None if empty."""
    if len(idx) == 0:
        return None
    kji = np.unravel_index(idx, shape)
    return (*(int(a.min()) for a in kji), *(int(a.max()) + 1 for a in kji))


def union_bbox(boxes) -> tuple[int, ...] | None:
    """Smallest bbox holding every non-None bbox of ``boxes``."""
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    b = np.array(boxes)
    return (*(int(v) for v in b[:, :3].min(0)), *(int(v) for v in b[:, 3:].max(0)))
