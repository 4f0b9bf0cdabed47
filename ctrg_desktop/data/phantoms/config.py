"""Settings of the phantom generator: the voxel grid and the image noise."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

#: smallest field of view (z, in-plane) in mm that holds the whole drawn chest
MIN_FOV_MM = (240.0, 280.0)


@dataclass
class PhantomConfig:
    """Grid ``shape`` (D, H, W) voxels, ``spacing`` (sk, sj, si) mm, Gaussian ``noise_hu`` (std, HU),
    and the share of studies with intravenous contrast (``contrast_fraction``)."""

    shape: tuple[int, int, int] = (96, 128, 128)
    spacing: tuple[float, float, float] = (3.0, 2.5, 2.5)
    noise_hu: float = 15.0
    contrast_fraction: float = 0.3

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "PhantomConfig":
        """Normalise types and raise ``ValueError`` for an unusable grid; returns self."""
        self.shape = tuple(int(n) for n in self.shape)
        self.spacing = tuple(float(s) for s in self.spacing)
        if len(self.shape) != 3 or min(self.shape) < 16:
            raise ValueError(f"phantom shape must be three sizes >= 16 voxels, got {self.shape}")
        if len(self.spacing) != 3 or min(self.spacing) <= 0:
            raise ValueError(f"phantom spacing must be three positive mm values, got {self.spacing}")
        fov = tuple(n * s for n, s in zip(self.shape, self.spacing))
        if fov[0] < MIN_FOV_MM[0] or min(fov[1:]) < MIN_FOV_MM[1]:
            raise ValueError(f"phantom field of view {tuple(round(f) for f in fov)} mm is too small for "
                             f"a chest: needs at least {MIN_FOV_MM[0]} mm along z and {MIN_FOV_MM[1]} mm in-plane")
        if self.noise_hu < 0 or not 0 <= self.contrast_fraction <= 1:
            raise ValueError("noise_hu must be >= 0 and contrast_fraction within [0, 1]")
        return self

    @classmethod
    def full_size(cls) -> "PhantomConfig":
        """The CT-RATE model grid: 240 x 480 x 480 voxels of 1.5 x 0.75 x 0.75 mm."""
        return cls(shape=(240, 480, 480), spacing=(1.5, 0.75, 0.75))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
