"""HU window clipping and normalisation to the model's input range, and its inverse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HUWindow:
    """Clip HU to ``[lo, hi]`` then map linearly: ``(hu - centre) / scale``.

    The seed paper's code: ``HUWindow(-1000, 200, centre=-400, scale=600)`` -> [-1, 1];
    CT-CLIP: ``HUWindow(-1000, 1000, centre=0, scale=1000)``.
    """

    lo: float = -1000.0
    hi: float = 200.0
    centre: float = -400.0
    scale: float = 600.0

    def __post_init__(self):
        if self.hi <= self.lo:
            raise ValueError(f"window upper bound {self.hi} must exceed lower bound {self.lo}")
        if self.scale <= 0:
            raise ValueError(f"scale must be positive, got {self.scale}")

    def normalise(self, hu: np.ndarray) -> np.ndarray:
        """HU array -> float32 model input."""
        out = np.clip(hu.astype(np.float32, copy=False), self.lo, self.hi)
        return (out - np.float32(self.centre)) / np.float32(self.scale)

    def denormalise(self, x: np.ndarray) -> np.ndarray:
        """Model input -> HU (exact inside the window; clipped values come back at the bounds)."""
        return np.asarray(x, dtype=np.float32) * np.float32(self.scale) + np.float32(self.centre)


PAPER_WINDOW = HUWindow(-1000.0, 200.0, -400.0, 600.0)
CTCLIP_WINDOW = HUWindow(-1000.0, 1000.0, 0.0, 1000.0)
