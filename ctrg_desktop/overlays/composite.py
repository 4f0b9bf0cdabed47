"""Draw one slice of a volume and its image layers into a single RGB image (pure numpy).

The slice views show one RGB texture per slice instead of a stack of VTK layers: the grey
window, every visible label map and heat map (bottom to top, each with its opacity) are blended
here on the CPU, touching only the slice on screen.

>>> grey = GreyWindow(level=40, width=400)
>>> volume = np.zeros((2, 3, 4), np.int16)
>>> labels = LabelMapLayer(np.ones((2, 3, 4), np.uint8), colours={1: (1, 0, 0)}, opacity=1.0)
>>> composite_slice(volume, 0, 1, grey, [labels])[0, 0].tolist()
[255, 0, 0]

The slice views use :class:`SliceCompositor`, which gives the same colours as RGBA (alpha 255)
into a preallocated buffer with one table lookup per pixel (see there).
"""

from __future__ import annotations

import math

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


def _image_layers(layers, blends: dict | None) -> list[tuple[Layer, LayerBlend]]:
    """The visible label/heat ``layers`` (bottom first) that draw something, with their blends."""
    out = []
    for layer in layers:
        if not layer.visible or layer.opacity <= 0 or not isinstance(layer, (LabelMapLayer, HeatmapLayer)):
            continue
        blend = blends.get(id(layer)) if blends is not None else None
        if blend is None:
            blend = LayerBlend(layer)
            if blends is not None:
                blends[id(layer)] = blend
        if not blend.empty:
            out.append((layer, blend))
    return out


def _rgba_view(out: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint32 view of a C-contiguous ``(h, w, 4)`` uint8 array (one pixel per item)."""
    return out.view(np.uint32)[..., 0]


class SliceCompositor:
    """:func:`composite_slice` as RGBA (alpha 255) into a preallocated ``(h, w, 4)`` uint8 buffer.

    Every visible image layer's row for a pixel (its label, or its heat level) and the windowed
    grey value form one integer key, ``((row_n * R_n-1 + row_n-1) ... * R_1 + row_1) * 256 + grey``;
    a table of packed RGBA pixels for every key, built once per grey window and layer style by
    running the layers' blend tables over all combinations, turns the keys into the image with
    one ``take``. So a frame costs the grey lookup, the layers' row indices, a few integer passes
    and one lookup, whatever the number of layers, with no float temporaries over the slice.
    Stacks whose table would exceed ``max_table`` entries (many labels under a heat map) blend
    layer by layer like :func:`composite_slice` and then pack. Colours equal
    :func:`composite_slice`'s exactly.
    """

    def __init__(self, max_table: int = 1 << 20):
        self.max_table = int(max_table)
        self._tables: dict = {}  # (grey, blend objects, row counts) -> packed uint32 table
        self._key = None
        self._scratches: dict = {}

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        buffer = self._scratches.get((like.shape, like.dtype))
        if buffer is None:
            buffer = self._scratches[(like.shape, like.dtype)] = np.empty(like.shape, like.dtype)
        return buffer

    def _grey_rgba(self, grey: GreyWindow, dtype: np.dtype) -> np.ndarray:
        """Packed grey RGBA for every value of a small integer ``dtype`` (uint32, same length as grey's table)."""
        cache_key = (grey, "grey", np.dtype(dtype))
        table = self._tables.get(cache_key)
        if table is None:
            g = grey._table(np.dtype(dtype))
            rgba = np.empty(g.shape + (4,), np.uint8)
            rgba[..., :3] = g[:, None]
            rgba[..., 3] = 255
            table = self._remember(cache_key, rgba.view(np.uint32)[..., 0])
        return table

    def _remember(self, key, table: np.ndarray) -> np.ndarray:
        if len(self._tables) >= 8:  # old windows / styles: drop them all (they are cheap to rebuild)
            self._tables.clear()
        self._tables[key] = table
        return table

    def _stack_table(self, grey: GreyWindow, blends: tuple[LayerBlend, ...], rows: tuple[int, ...]) -> np.ndarray:
        cache_key = (grey, blends, rows)
        table = self._tables.get(cache_key)
        if table is None:
            channels = [np.arange(256, dtype=np.uint16)] * 3  # shape (R_k, ..., R_1, 256) as layers stack
            for blend, n in zip(blends, rows):
                at = (np.arange(n, dtype=np.uint16) << 8).reshape((n,) + (1,) * channels[0].ndim)
                channels = [lut.take(at | c).astype(np.uint16) for lut, c in zip(blend.lut, channels)]
            rgba = np.empty(channels[0].shape + (4,), np.uint8)
            for c in range(3):
                rgba[..., c] = channels[c]
            rgba[..., 3] = 255
            table = self._remember(cache_key, rgba.view(np.uint32).reshape(-1))
        return table

    @staticmethod
    def _rows(layer: Layer, blend: LayerBlend) -> int:
        """How many table rows a layer's index can take (label maps: the table plus one transparent)."""
        return min(len(blend.rgba) + 1, 256) if isinstance(layer, LabelMapLayer) else 256

    def __call__(self, volume: np.ndarray, axis: int, index: int, grey: GreyWindow, layers=(),
                 blends: dict | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Fill ``out`` (``(h, w, 4)`` uint8, C-contiguous; made when ``None``) and return it."""
        plane = take_slice(volume, axis, index)
        if out is None:
            out = np.empty(plane.shape + (4,), np.uint8)
        pixels = _rgba_view(out)
        drawn = _image_layers(layers, blends)
        small_int = plane.dtype.itemsize <= 2 and np.issubdtype(plane.dtype, np.integer)
        if not drawn and small_int:  # grey only: one lookup
            self._grey_rgba(grey, plane.dtype).take(plane.view(f"u{plane.dtype.itemsize}"), out=pixels)
            return out
        rows = tuple(self._rows(layer, blend) for layer, blend in drawn)
        size = 256 * math.prod(rows)  # Python ints: 256**n of many heat maps overflows int64
        if any(blend.lut is None for _, blend in drawn) or size > self.max_table:
            rgb = composite_slice(volume, axis, index, grey, [layer for layer, _ in drawn], blends)
            out[..., :3] = rgb
            out[..., 3] = 255
            return out
        table = self._stack_table(grey, tuple(blend for _, blend in drawn), rows)
        key = self._key
        if key is None or key.shape != plane.shape:
            key = self._key = np.empty(plane.shape, np.intp)
        first = True
        for (layer, _), n in zip(reversed(drawn), reversed(rows)):  # top layer first
            row = layer_index(layer, take_slice(layer.array, axis, index))
            if isinstance(layer, LabelMapLayer) and not (row.dtype == np.uint8 and n == 256):
                row = np.minimum(row, n - 1, out=self._scratch(row))  # labels past the table: its transparent last row
            if first:
                np.copyto(key, row)
                first = False
            else:
                key *= n
                key += row
        key <<= 8
        key |= grey(plane)
        table.take(key, out=pixels)
        return out
