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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

#: ``direction`` of a canonical volume: array axis k -> +z (S), j -> +y (P), i -> +x (L).
CANONICAL_DIRECTION = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


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
        self.spacing = tuple(float(s) for s in self.spacing)
        if len(self.spacing) != 3 or not all(np.isfinite(self.spacing)) or min(self.spacing) <= 0:
            raise ValueError(f"spacing must be three finite positive mm values, got {self.spacing}")
        self.origin = tuple(float(o) for o in self.origin)
        direction = np.array(self.direction, dtype=np.float64).reshape(3, 3)
        direction[np.abs(direction) < 1e-12] = 0.0  # float dust (denormals) upsets ITK's SVD
        self.direction = direction

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)

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
        """Three letters naming where the (i, j, k) axes point, e.g. ``"LPS"`` for canonical volumes."""
        letters = (("L", "R"), ("P", "A"), ("S", "I"))
        code = ""
        for axis in (2, 1, 0):  # i, j, k
            v = self.direction[:, axis]
            w = int(np.argmax(np.abs(v)))
            code += letters[w][0 if v[w] > 0 else 1]
        return code

    def hu_range(self) -> tuple[float, float]:
        return float(self.array.min()), float(self.array.max())

    def with_array(self, array: np.ndarray, **changes) -> "Volume":
        """A copy sharing metadata, with a new array (and optionally new geometry)."""
        return dataclasses.replace(self, array=array, **changes)

    def summary(self) -> dict:
        """JSON-ready description without PHI."""
        lo, hi = self.hu_range()
        return {
            "shape": list(self.shape),
            "axes": ["k (slice, towards S)", "j (row, towards P)", "i (column, towards L)"],
            "spacing_mm": [round(s, 4) for s in self.spacing],
            "origin_lps_mm": [round(o, 3) for o in self.origin],
            "direction": [[round(float(v), 6) for v in row] for row in self.direction],
            "orientation": self.orientation_code(),
            "dtype": str(self.array.dtype),
            "hu_range": [lo, hi],
            "modality": self.series.modality,
            "description": self.series.description,
            "format": self.series.source_format,
            "slice_count": self.series.slice_count or self.shape[0],
            "warnings": list(self.series.warnings),
        }
