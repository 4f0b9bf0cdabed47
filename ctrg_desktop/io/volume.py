"""The in-memory CT study: a HU array with its geometry, and identifiers kept apart.

Conventions (used everywhere in ctrg-desktop):

* ``Volume.array`` is indexed ``[k, j, i]`` = (slice, row, column), shape ``(D, H, W)``.
* World coordinates are **LPS** millimetres ``(x, y, z)``: +x towards the patient's Left,
  +y Posterior, +z Superior (the DICOM patient system, as ITK uses it). Never RAS.
* Readers reorient every study to the canonical ``LPS`` axis order: column index ``i`` grows
  towards patient left, row index ``j`` towards posterior, slice index ``k`` towards superior.
  An axial slice ``array[k]`` displayed with row 0 at the top and column 0 on the left is then
  in radiological convention (anterior up, patient right on the screen's left).
* ``spacing`` is in array-axis order ``(sk, sj, si)`` mm; ``origin`` is the LPS world point of
  the centre of voxel ``[0, 0, 0]``; ``direction[:, a]`` is the LPS unit vector of array axis ``a``.
  ``world = origin + direction @ (spacing * [k, j, i])``.

The grid itself (no voxels) is :class:`~ctrg_desktop.io.geometry.GridGeometry` (``Volume.geometry``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.io.geometry import CANONICAL_DIRECTION, GridGeometry

__all__ = ["CANONICAL_DIRECTION", "SeriesInfo", "StudyMeta", "Volume"]


@dataclass
class StudyMeta:
    """Patient and study identifiers (PHI) kept apart from the image so they can be stripped."""

    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    age: str = ""
    study_date: str = ""
    study_time: str = ""
    accession_number: str = ""
    institution: str = ""
    referring_physician: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    extra: dict = field(default_factory=dict)

    def stripped(self) -> "StudyMeta":
        """A copy with every identifying field emptied (UIDs too: they can identify a study)."""
        return StudyMeta()

    def is_empty(self) -> bool:
        """True when no identifying field is set."""
        return all(not v for v in dataclasses.asdict(self).values())


@dataclass
class SeriesInfo:
    """Non-identifying description of the series the volume came from."""

    modality: str = "CT"
    description: str = ""
    series_instance_uid: str = ""
    source_format: str = ""
    source_path: str = ""
    slice_count: int = 0
    transfer_syntax: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Volume:
    """A CT volume in Hounsfield units with its LPS geometry (see module docstring)."""

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: CANONICAL_DIRECTION.copy())
    series: SeriesInfo = field(default_factory=SeriesInfo)
    meta: StudyMeta = field(default_factory=StudyMeta)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"a volume needs a 3D array, got shape {self.array.shape}")
        if self.array.dtype not in (np.int16, np.float32):
            raise ValueError(f"volume arrays are int16 or float32 HU, got {self.array.dtype}")
        grid = GridGeometry(self.array.shape, self.spacing, self.origin, self.direction)  # checks them
        self.spacing, self.origin, self.direction = grid.spacing, grid.origin, np.array(grid.direction)

    @classmethod
    def on_grid(cls, array: np.ndarray, geometry: GridGeometry, **fields) -> "Volume":
        """A volume of ``array`` standing on ``geometry`` (``fields``: series, meta)."""
        if tuple(array.shape) != geometry.shape:
            raise ValueError(f"array shape {tuple(array.shape)} differs from the grid's {geometry.shape}")
        return cls(array, geometry.spacing, geometry.origin, geometry.direction, **fields)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)

    @property
    def geometry(self) -> GridGeometry:
        """The grid the voxels stand on (shape, spacing, origin, direction)."""
        return GridGeometry(self.array.shape, self.spacing, self.origin, self.direction)

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous voxel index ``(k, j, i, 1)`` to LPS world ``(x, y, z, 1)``."""
        return self.geometry.affine

    def voxel_to_world(self, kji) -> np.ndarray:
        """Voxel indices ``(..., 3)`` in (k, j, i) order (fractional allowed) to LPS mm ``(..., 3)``."""
        return self.geometry.voxel_to_world(kji)

    def world_to_voxel(self, xyz) -> np.ndarray:
        """LPS mm points ``(..., 3)`` to fractional voxel indices ``(..., 3)`` in (k, j, i) order."""
        return self.geometry.world_to_voxel(xyz)

    def orientation_code(self) -> str:
        """Three letters naming where the (i, j, k) axes point, e.g. ``"LPS"`` for canonical volumes."""
        return self.geometry.orientation_code()

    def hu_range(self) -> tuple[float, float]:
        return float(self.array.min()), float(self.array.max())

    def with_array(self, array: np.ndarray, **changes) -> "Volume":
        """A copy sharing metadata, with a new array (and optionally new geometry)."""
        return dataclasses.replace(self, array=array, **changes)

    def summary(self) -> dict:
        """JSON-ready description without PHI."""
        lo, hi = self.hu_range()
        grid = self.geometry
        return {
            "shape": list(grid.shape),
            "axes": ["k (slice, towards S)", "j (row, towards P)", "i (column, towards L)"],
            "spacing_mm": [round(s, 4) for s in grid.spacing],
            "origin_lps_mm": [round(o, 3) for o in grid.origin],
            "direction": [[round(float(v), 6) for v in row] for row in grid.direction],
            "orientation": grid.orientation_code(),
            "dtype": str(self.array.dtype),
            "hu_range": [lo, hi],
            "modality": self.series.modality,
            "description": self.series.description,
            "format": self.series.source_format,
            "slice_count": self.series.slice_count or self.shape[0],
            "warnings": list(self.series.warnings),
        }
