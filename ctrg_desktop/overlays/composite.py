"""Draw one slice of a volume and its image layers into a single RGB image (pure numpy).

The slice views show one RGB texture per slice instead of a stack of VTK layers: the grey
window, every visible label map and heat map (bottom to top, each with its opacity) are blended
here on the CPU, touching only the slice on screen.

>>> grey = GreyWindow(level=40, width=400)
>>> volume = np.zeros((2, 3, 4), np.int16)
>>> labels = LabelMapLayer(np.ones((2, 3, 4), np.uint8), colours={1: (1, 0, 0)}, opacity=1.0)
>>> composite_slice(volume, 0, 1, grey, [labels])[0, 0].tolist()
[255, 0, 0]
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.overlays.layers import HeatmapLayer, LabelMapLayer, Layer


def take_slice(array: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The 2D slice ``index`` of ``array`` across ``axis`` (0 = k, 1 = j, 2 = i), as a view."""
    return array[(slice(None),) * axis + (int(index),)]


class GreyWindow:
    """Window/level to uint8 grey like VTK's ``ColorWindow``/``ColorLevel``; int16 and (u)int8 go
    through a lookup table built once per window, other types through float arithmetic."""

    def __init__(self, level: float, width: float):
        self.level, self.width = float(level), max(float(width), 1e-6)
        self._tables: dict[np.dtype, np.ndarray] = {}

    def _table(self, dtype: np.dtype) -> np.ndarray:
        table = self._tables.get(dtype)
        if table is None:
            bits = np.dtype(dtype).itemsize * 8
            unsigned = np.arange(2**bits, dtype=np.uint32).astype(f"u{bits // 8}")
            values = unsigned.view(dtype).astype(np.float32)
            table = self._scale(values)
            self._tables[dtype] = table
        return table

    def _scale(self, values: np.ndarray) -> np.ndarray:
        low = self.level - 0.5 * self.width
        out = (values - np.float32(low)) * np.float32(255.0 / self.width)
        return np.clip(out, 0.0, 255.0, out=out).astype(np.uint8)

    def __call__(self, plane: np.ndarray) -> np.ndarray:
        """``plane`` (any shape) -> uint8 grey of the same shape."""
        if plane.dtype.itemsize <= 2 and np.issubdtype(plane.dtype, np.integer):
            unsigned = plane.view(f"u{plane.dtype.itemsize}")
            return self._table(plane.dtype).take(unsigned)
        return self._scale(np.asarray(plane, dtype=np.float32))


def layer_rgba_table(layer: Layer, n: int = 256) -> np.ndarray:
    """``(m, 4)`` uint8 RGBA for an image layer, the layer's opacity folded into alpha."""
    table = layer.rgba_table() if isinstance(layer, LabelMapLayer) else layer.rgba_table(n)
    table = np.asarray(table, dtype=np.float64).copy()
    table[:, 3] *= layer.opacity
    return np.clip(np.round(table * 255.0), 0, 255).astype(np.uint8)


def layer_index(layer: Layer, plane: np.ndarray, n: int = 256) -> np.ndarray:
    """Rows of :func:`layer_rgba_table` for one slice ``plane`` of an image layer: the labels
    themselves, or heat values quantised over ``range`` to ``n`` levels (NaN -> level 0)."""
    if isinstance(layer, LabelMapLayer):
        return plane
    if isinstance(layer, HeatmapLayer):
        lo, hi = layer.range
        scaled = np.subtract(plane, np.float32(lo), dtype=np.float32)
        scaled *= np.float32((n - 1) / (hi - lo))
        scaled += np.float32(0.5)
        np.fmax(scaled, 0.0, out=scaled)  # NaN -> 0 too
        np.fmin(scaled, n - 1, out=scaled)
        return scaled.astype(np.uint8 if n <= 256 else np.uint16)
    raise TypeError(f"{type(layer).__name__} is not an image layer")


class LayerBlend:
    """Blends one image layer over an RGB image with per-channel lookup tables
    ``T_c[row * 256 + under] = (under * (255 - a) + c * a) / 255`` (or plain uint16
    arithmetic for label maps with more than 256 rows)."""

    def __init__(self, layer: Layer):
        self.rgba = layer_rgba_table(layer)
        rows = len(self.rgba)
        self.lut = None
        if rows <= 256:
            rgba = np.zeros((256, 4), np.uint32)
            rgba[:rows] = self.rgba  # rows past the table (labels added later): transparent
            a = rgba[:, 3][:, None]
            under = np.arange(256, dtype=np.uint32)[None, :]
            self.lut = [((under * (255 - a) + rgba[:, c][:, None] * a + 127) // 255).astype(np.uint8).ravel()
                        for c in range(3)]
        self.empty = not self.rgba[:, 3].any()

    def __call__(self, planes: list[np.ndarray], index: np.ndarray) -> None:
        """Blend over ``planes`` (three (h, w) uint8 channel arrays, changed in place)."""
        if self.empty:
            return
        if self.lut is not None:
            rows = index.astype(np.uint16)
            rows <<= 8
            at = np.empty_like(rows)
            for channel, lut in zip(planes, self.lut):
                np.bitwise_or(rows, channel, out=at)
                lut.take(at, out=channel)
            return
        rgba = self.rgba[np.minimum(index, len(self.rgba) - 1)]
        a = rgba[..., 3].astype(np.uint16)
        for c, channel in enumerate(planes):
            mixed = channel * (255 - a) + rgba[..., c] * a + 127
            channel[...] = mixed // 255


def composite_slice(volume: np.ndarray, axis: int, index: int, grey: GreyWindow, layers=(),
                    blends: dict[int, LayerBlend] | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """``(h, w, 3)`` uint8: slice ``index`` across ``axis`` of ``volume`` through ``grey`` with the
    visible image ``layers`` (bottom first) blended on top. ``blends``: id(layer) -> cached
    :class:`LayerBlend` (drop a layer's entry when its style changes); ``out``: an array to fill."""
    base = grey(take_slice(volume, axis, index))
    planes = [base, base.copy(), base.copy()]
    drawn = False
    for layer in layers:
        if not layer.visible or layer.opacity <= 0 or not isinstance(layer, (LabelMapLayer, HeatmapLayer)):
            continue
        blend = blends.get(id(layer)) if blends is not None else None
        if blend is None:
            blend = LayerBlend(layer)
            if blends is not None:
                blends[id(layer)] = blend
        blend(planes, layer_index(layer, take_slice(layer.array, axis, index)))
        drawn = True
    if out is None:
        out = np.empty(base.shape + (3,), np.uint8)
    if drawn:
        for c in range(3):
            out[..., c] = planes[c]
    else:
        out[...] = base[..., None]
    return out
