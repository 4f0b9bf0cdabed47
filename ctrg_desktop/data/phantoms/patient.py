"""Per-patient variation: body habitus, position on the table, contrast and tissue densities."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np


@dataclass
class Patient:
    """Everything about the normal anatomy that differs between patients (mm, degrees, HU)."""

    sex: str                      # "F" or "M"
    age: int
    scale: tuple[float, float, float]   # body size factors along X, Y, Z
    fat_mm: float                 # subcutaneous fat thickness
    angle_deg: float              # rotation about the body axis
    shift: tuple[float, float]    # in-plane offset of the body axis from the grid centre
    z_center: float               # patient Z at the grid centre (carina = 0)
    dome_shift: float             # inspiration: diaphragm height change
    contrast: bool
    blood_hu: float               # heart chambers and great vessels
    lung_hu: float                # lung parenchyma
    cortex_hu: float
    liver_hu: float
    breast_size: float            # 0 for males
    esophagus_air: bool
    ctr: float                    # target cardiothoracic ratio
    pericardial_fluid_mm: float = 0.0

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def sample_patient(rng: np.random.Generator, contrast_fraction: float) -> Patient:
    """A random adult patient with a normal heart (CTR 0.40-0.47) and no pericardial fluid."""
    sex = "F" if rng.random() < 0.5 else "M"
    size = rng.uniform(0.86, 1.05) * (0.96 if sex == "F" else 1.0)
    contrast = bool(rng.random() < contrast_fraction)
    return Patient(
        sex=sex,
        age=int(rng.integers(25, 88)),
        scale=(size, size * rng.uniform(0.9, 1.08), rng.uniform(0.92, 1.06)),
        fat_mm=float(np.clip(6 + 60 * (size - 0.86) + rng.normal(0, 3) + (4 if sex == "F" else 0), 5, 24)),
        angle_deg=rng.uniform(-4, 4),
        shift=(rng.uniform(-6, 6), rng.uniform(-6, 6)),
        z_center=rng.uniform(-46, -32),
        dome_shift=rng.uniform(-10, 10),
        contrast=contrast,
        blood_hu=rng.uniform(160, 240) if contrast else rng.uniform(35, 48),
        lung_hu=rng.uniform(-865, -830),
        cortex_hu=rng.uniform(700, 1000),
        liver_hu=rng.uniform(95, 115) if contrast else rng.uniform(50, 65),
        breast_size=rng.uniform(0.7, 1.3) if sex == "F" else 0.0,
        esophagus_air=bool(rng.random() < 0.4),
        ctr=rng.uniform(0.40, 0.47),
    )
