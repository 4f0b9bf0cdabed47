"""Slice <-> encoder input: CT windowing, resizing/padding, and the matching prompt and mask maps.

Pixel coordinates (used for every prompt in :mod:`ctrg_desktop.segmentation`): a 2D slice
``image[row, col]`` has pixel centres at integer positions; a point is ``(x, y) = (col, row)``
and a box ``(x0, y0, x1, y1)`` names the columns/rows of its first and last pixel, as SAM boxes
drawn around a mask (``x0 = min col``, ``x1 = max col``, inclusive).

The encoder sees the slice resized to ``(h, w)`` and zero-padded to ``size x size`` at the
bottom/right ("longest": the longest side becomes ``size``) or stretched to ``size x size``
("square"). With ``r = h / H`` a pixel *centre* ``c`` maps to ``(c + 0.5) r - 0.5``; a box's first
pixel ``c0`` to ``c0 r`` and its last pixel ``c1`` to ``(c1 + 1) r - 1``, so the box still
encloses exactly the resized pixels of the region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ctrg_desktop.segmentation.architectures import SAM_PIXEL_MEAN, SAM_PIXEL_STD, ArchSpec, SegmentationError

#: Default CT window (level, width) HU: soft tissue / mediastinum.
SOFT_TISSUE_WINDOW = (40.0, 400.0)
#: Lung window (level, width) HU.
LUNG_WINDOW = (-600.0, 1500.0)


def normalise_window(window) -> tuple[float, float]:
    """``(level, width)`` as two floats; :class:`SegmentationError` for a non-positive width."""
    try:
        level, width = (float(v) for v in window)
    except (TypeError, ValueError):
        raise SegmentationError(f"a CT window is (level, width) in HU, got {window!r}") from None
    if not np.isfinite(level) or not np.isfinite(width) or width <= 0:
        raise SegmentationError(f"a CT window needs a finite level and a positive width, got {window!r}")
    return level, width


def window_unit(image_hu: np.ndarray, window) -> np.ndarray:
    """HU -> float32 in [0, 1]: ``level - width/2`` -> 0, ``level + width/2`` -> 1, clipped."""
    level, width = normalise_window(window)
    out = (np.asarray(image_hu, dtype=np.float32) - np.float32(level - width / 2.0)) / np.float32(width)
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class InputGeometry:
    """Where a slice of ``original`` (H, W) lies in the encoder's ``size x size`` input."""

    original: tuple[int, int]
    resized: tuple[int, int]   #: (h, w) before padding
    size: int

    @classmethod
    def for_slice(cls, shape, spec: ArchSpec) -> "InputGeometry":
        height, width = (int(n) for n in shape)
        size = spec.image_size
        if spec.resize == "square":
            return cls((height, width), (size, size), size)
        scale = size / max(height, width)
        return cls((height, width), (max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))), size)

    @property
    def ratio(self) -> tuple[float, float]:
        """(x, y) scale from slice pixels to resized input pixels."""
        return self.resized[1] / self.original[1], self.resized[0] / self.original[0]

    def points_to_input(self, xy: np.ndarray) -> np.ndarray:
        rx, ry = self.ratio
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return np.stack([(xy[:, 0] + 0.5) * rx - 0.5, (xy[:, 1] + 0.5) * ry - 0.5], axis=1)

    def box_to_input(self, box) -> np.ndarray:
        rx, ry = self.ratio
        x0, y0, x1, y1 = (float(v) for v in box)
        return np.array([x0 * rx, y0 * ry, (x1 + 1) * rx - 1, (y1 + 1) * ry - 1], dtype=np.float64)


def encoder_input(image_hu: np.ndarray, window, spec: ArchSpec, device) -> tuple[torch.Tensor, InputGeometry]:
    """A 2D HU slice -> the encoder's ``(1, 3, size, size)`` float32 input and its geometry."""
    image = np.asarray(image_hu)
    if image.ndim != 2 or min(image.shape) < 2:
        raise SegmentationError(f"a slice to segment is a 2D image of at least 2x2 pixels, got shape {image.shape}")
    geometry = InputGeometry.for_slice(image.shape, spec)
    unit = torch.from_numpy(np.ascontiguousarray(window_unit(image, window)))[None, None].to(device)
    h, w = geometry.resized
    if (h, w) != tuple(image.shape):
        antialias = h < image.shape[0] or w < image.shape[1]
        unit = F.interpolate(unit, size=(h, w), mode="bilinear", align_corners=False, antialias=antialias)
        unit = unit.clamp_(0.0, 1.0)
    x = unit.expand(1, 3, h, w)
    if spec.intensities == "imagenet":
        mean = torch.tensor(SAM_PIXEL_MEAN, device=device).view(1, 3, 1, 1)
        std = torch.tensor(SAM_PIXEL_STD, device=device).view(1, 3, 1, 1)
        x = (x * 255.0 - mean) / std
    x = F.pad(x, (0, geometry.size - w, 0, geometry.size - h))
    return x.contiguous(), geometry


def logits_to_slice(low_res: torch.Tensor, geometry: InputGeometry) -> torch.Tensor:
    """Decoder logits ``(1, 1, m, m)`` -> logits on the slice's own ``(H, W)`` pixels."""
    size = geometry.size
    x = low_res.float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    h, w = geometry.resized
    x = x[..., :h, :w]
    if (h, w) != geometry.original:
        x = F.interpolate(x, size=geometry.original, mode="bilinear", align_corners=False)
    return x[0, 0]
