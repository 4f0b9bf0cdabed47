"""A voxel grid's place in patient space: shape, spacing, origin and direction (no voxels).

Conventions as :mod:`ctrg_desktop.io.volume`: array axes ``(k, j, i)``, LPS millimetres,
``world = origin + direction @ (spacing * [k, j, i])``. :class:`GridGeometry` is what a
:class:`~ctrg_desktop.io.volume.Volume` stands on (``Volume.geometry``) and what drafts,
evidence, corrections and exports store: as a dict only in JSON (:meth:`GridGeometry.to_json`,
:meth:`GridGeometry.from_json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: ``direction`` of a canonical grid: array axis k -> +z (S), j -> +y (P), i -> +x (L).
CANONICAL_DIRECTION = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
#: the keys of a geometry in JSON (``orientation`` is written too, and ignored when read)
GEOMETRY_KEYS = ("shape", "spacing", "origin", "direction")


@dataclass(frozen=True, eq=False)
class GridGeometry:
    """Shape ``(D, H, W)``, spacing ``(sk, sj, si)`` mm, LPS origin of voxel ``[0, 0, 0]``'s centre
    and direction (column ``a``: the LPS unit vector of array axis ``a``); checked and immutable."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: CANONICAL_DIRECTION.copy())

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in self.shape)
        if len(shape) != 3 or min(shape) < 0:
            raise ValueError(f"a grid has three sizes (k, j, i), got {list(shape)}")
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise ValueError(f"spacing must be three finite positive mm values, got {spacing}")
        origin = tuple(float(o) for o in self.origin)
        if len(origin) != 3:
            raise ValueError(f"origin must be three LPS mm values, got {origin}")
        direction = np.array(self.direction, dtype=np.float64).reshape(3, 3)
        direction[np.abs(direction) < 1e-12] = 0.0  # float dust (denormals) upsets ITK's SVD
        direction.flags.writeable = False
        for name, value in (("shape", shape), ("spacing", spacing), ("origin", origin), ("direction", direction)):
            object.__setattr__(self, name, value)

    def __eq__(self, other) -> bool:
        if not isinstance(other, GridGeometry):
            return NotImplemented
        return (self.shape == other.shape and self.spacing == other.spacing and self.origin == other.origin
                and bool(np.array_equal(self.direction, other.direction)))

    __hash__ = None

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous voxel index ``(k, j, i, 1)`` to LPS world ``(x, y, z, 1)``."""
        a = np.eye(4)
        a[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        a[:3, 3] = self.origin
        return a

    def voxel_to_world(self, kji) -> np.ndarray:
        """Voxel indices ``(..., 3)`` in (k, j, i) order (fractional allowed) to LPS mm ``(..., 3)``."""
        kji = np.asarray(kji, dtype=np.float64)
        a = self.affine
        return kji @ a[:3, :3].T + a[:3, 3]

    def world_to_voxel(self, xyz) -> np.ndarray:
        """LPS mm points ``(..., 3)`` to fractional voxel indices ``(..., 3)`` in (k, j, i) order."""
        xyz = np.asarray(xyz, dtype=np.float64)
        a = self.affine
        return (xyz - a[:3, 3]) @ np.linalg.inv(a[:3, :3]).T

    def orientation_code(self) -> str:
        """Three letters naming where the (i, j, k) axes point, e.g. ``"LPS"`` for canonical grids."""
        letters = (("L", "R"), ("P", "A"), ("S", "I"))
        code = ""
        for axis in (2, 1, 0):  # i, j, k
            v = self.direction[:, axis]
            w = int(np.argmax(np.abs(v)))
            code += letters[w][0 if v[w] > 0 else 1]
        return code

    def to_json(self, orientation: bool = True) -> dict:
        """``{"shape", "spacing", "origin", "direction"[, "orientation"]}`` as JSON lists."""
        data = {"shape": list(self.shape), "spacing": list(self.spacing), "origin": list(self.origin),
                "direction": [[float(v) for v in row] for row in self.direction]}
        if orientation:
            data["orientation"] = self.orientation_code()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "GridGeometry":
        """Inverse of :meth:`to_json` (other keys are ignored); KeyError when a key is missing,
        ValueError or TypeError when a value is malformed."""
        return cls(tuple(data["shape"]), tuple(data["spacing"]), tuple(data["origin"]),
                   np.asarray(data["direction"], dtype=np.float64))


def as_geometry(value) -> GridGeometry:
    """A :class:`GridGeometry` from itself, anything holding one (a ``Volume``) or its JSON dict."""
    if isinstance(value, GridGeometry):
        return value
    if isinstance(value, dict):
        return GridGeometry.from_json(value)
    geometry = getattr(value, "geometry", None)
    if isinstance(geometry, GridGeometry):
        return geometry
    raise TypeError(f"no grid geometry in a {type(value).__name__}")
