"""Display windowing: HU -> 8-bit grey for a window level/width (radiology presets)."""

from __future__ import annotations

import numpy as np

#: name -> (level, width) in HU
WINDOW_PRESETS = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "abdomen": (50.0, 350.0),
    "brain": (40.0, 80.0),
}


def window_to_uint8(hu: np.ndarray, level: float, width: float) -> np.ndarray:
    """Map HU to 0..255: ``level - width/2`` -> 0, ``level + width/2`` -> 255, clipped."""
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    lo = level - width / 2.0
    out = (hu.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / width)
    return np.clip(out, 0, 255).astype(np.uint8)
