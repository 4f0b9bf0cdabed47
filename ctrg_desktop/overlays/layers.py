"""Overlay layers as pure data: label maps, heat maps and boxes on a volume's voxel grid.

Arrays are indexed ``[k, j, i]`` like :class:`ctrg_desktop.io.volume.Volume.array`. Each layer
has ``name``, ``visible``, ``opacity`` (0..1) and a ``changed`` event emitted as
``changed.emit(layer=self, what=...)`` with ``what`` in ``{"visible", "opacity", "data", "style"}``.
Renderers (Qt/VTK, in ``ctrg_desktop.app``) listen; this module never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctrg_desktop.overlays.colormaps import colormap_table, label_colour
from ctrg_desktop.overlays.events import Event

RGB = tuple[float, float, float]


class Layer:
    """Common state of every overlay layer."""

    kind = "layer"

    def __init__(self, name: str, visible: bool = True, opacity: float = 0.5):
        self.name = str(name)
        self.changed = Event()
        self._visible = bool(visible)
        self._opacity = _check_opacity(opacity)

    @property
    def visible(self) -> bool:
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        if bool(value) != self._visible:
            self._visible = bool(value)
            self.changed.emit(layer=self, what="visible")

    @property
    def opacity(self) -> float:
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        value = _check_opacity(value)
        if value != self._opacity:
            self._opacity = value
            self.changed.emit(layer=self, what="opacity")

    @property
    def shape(self) -> tuple[int, int, int] | None:
        """The voxel grid the layer lives on (``None`` when it has no grid, e.g. boxes)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, visible={self.visible}, opacity={self.opacity:.2f})"


class LabelMapLayer(Layer):
    """Integer label map (0 = background) with a colour and a name per label.

    >>> layer = LabelMapLayer(np.zeros((4, 5, 6), np.uint8), names={1: "lung"})
    >>> layer.rgba_table().shape  # (max label + 1, 4), row 0 transparent
    (2, 4)
    """

    kind = "labels"

    def __init__(self, array: np.ndarray, colours: dict[int, RGB] | None = None,
                 names: dict[int, str] | None = None, name: str = "labels", **kwargs):
        super().__init__(name, **kwargs)
        self.array = _check_labels(array)
        self.names = {int(k): str(v) for k, v in (names or {}).items()}
        self.colours = {int(k): _check_rgb(v) for k, v in (colours or {}).items()}

    @property
    def shape(self):
        return tuple(self.array.shape)

    @property
    def max_label(self) -> int:
        present = max(self.names) if self.names else 0
        return max(int(self.array.max()) if self.array.size else 0, present, max(self.colours, default=0))

    def colour_of(self, label: int) -> RGB:
        return self.colours.get(int(label), label_colour(int(label)))

    def set_colour(self, label: int, rgb: RGB) -> None:
        self.colours[int(label)] = _check_rgb(rgb)
        self.changed.emit(layer=self, what="style")

    def set_data(self, array: np.ndarray) -> None:
        array = _check_labels(array)
        if array.shape != self.array.shape:
            raise ValueError(f"label map shape {array.shape} differs from {self.array.shape}")
        self.array = array
        self.changed.emit(layer=self, what="data")

    def rgba_table(self) -> np.ndarray:
        """``(max_label + 1, 4)`` RGBA in 0..1; label 0 transparent, others opaque (opacity is separate)."""
        table = np.zeros((self.max_label + 1, 4))
        for label in range(1, len(table)):
            table[label, :3] = self.colour_of(label)
            table[label, 3] = 1.0
        return table


class HeatmapLayer(Layer):
    """Continuous map (e.g. attention) shown through a colour map; values below ``threshold`` hidden."""

    kind = "heatmap"

    def __init__(self, array: np.ndarray, colormap: str = "hot", threshold: float | None = None,
                 range: tuple[float, float] | None = None, name: str = "heatmap", **kwargs):
        super().__init__(name, **kwargs)
        self.array = _check_float(array)
        colormap_table(colormap)  # validates the name
        self._colormap = colormap
        lo, hi = range if range is not None else _finite_range(self.array)
        if not hi > lo:
            hi = lo + 1.0
        self._range = (float(lo), float(hi))
        self._threshold = float(self._range[0] if threshold is None else threshold)

    @property
    def shape(self):
        return tuple(self.array.shape)

    @property
    def colormap(self) -> str:
        return self._colormap

    @colormap.setter
    def colormap(self, name: str) -> None:
        colormap_table(name)
        self._colormap = name
        self.changed.emit(layer=self, what="style")

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = float(value)
        self.changed.emit(layer=self, what="style")

    @property
    def range(self) -> tuple[float, float]:
        return self._range

    @range.setter
    def range(self, lo_hi: tuple[float, float]) -> None:
        lo, hi = (float(v) for v in lo_hi)
        if not hi > lo:
            raise ValueError(f"heat map range needs low < high, got {lo_hi}")
        self._range = (lo, hi)
        self.changed.emit(layer=self, what="style")

    def set_data(self, array: np.ndarray) -> None:
        array = _check_float(array)
        if array.shape != self.array.shape:
            raise ValueError(f"heat map shape {array.shape} differs from {self.array.shape}")
        self.array = array
        self.changed.emit(layer=self, what="data")

    def rgba_table(self, n: int = 256) -> np.ndarray:
        """``(n, 4)`` RGBA over ``range``; entries whose value is below ``threshold`` have alpha 0."""
        table = np.ones((n, 4))
        table[:, :3] = colormap_table(self._colormap, n)
        values = np.linspace(self._range[0], self._range[1], n)
        table[values < self._threshold, 3] = 0.0
        return table

    def visible_mask(self) -> np.ndarray:
        """Boolean ``[k, j, i]``: voxels drawn (at or above threshold)."""
        return self.array >= self._threshold


@dataclass(frozen=True)
class Box:
    """Half-open voxel ranges like ``array[k0:k1, j0:j1, i0:i1]``; edges lie at ``index - 0.5``."""

    k0: int
    k1: int
    j0: int
    j1: int
    i0: int
    i1: int
    colour: RGB = (1.0, 1.0, 0.0)
    label: str = ""

    def __post_init__(self):
        if not (self.k1 > self.k0 and self.j1 > self.j0 and self.i1 > self.i0):
            raise ValueError(f"a box needs low < high on every axis, got {self}")

    @property
    def lows(self) -> tuple[int, int, int]:
        return self.k0, self.j0, self.i0

    @property
    def highs(self) -> tuple[int, int, int]:
        return self.k1, self.j1, self.i1

    def edges(self) -> np.ndarray:
        """``(2, 3)`` continuous voxel coordinates (k, j, i) of the low and high corners."""
        return np.array([self.lows, self.highs], dtype=np.float64) - 0.5


class BoxLayer(Layer):
    """Box / patch outlines on the voxel grid, each with a colour and an optional label."""

    kind = "boxes"

    def __init__(self, boxes=(), name: str = "boxes", line_width: float = 2.0, **kwargs):
        kwargs.setdefault("opacity", 1.0)
        super().__init__(name, **kwargs)
        self.boxes: list[Box] = [_as_box(b) for b in boxes]
        self.line_width = float(line_width)

    def set_boxes(self, boxes) -> None:
        self.boxes = [_as_box(b) for b in boxes]
        self.changed.emit(layer=self, what="data")

    def boxes_on_slice(self, axis: int, index: int) -> list[tuple[Box, np.ndarray]]:
        """Boxes crossing slice ``index`` of array ``axis`` (0=k, 1=j, 2=i), each with its
        ``(2, 3)`` corner coordinates (continuous k, j, i) flattened onto that slice."""
        out = []
        for box in self.boxes:
            if box.lows[axis] <= index < box.highs[axis]:
                corners = box.edges()
                corners[:, axis] = index
                out.append((box, corners))
        return out


def _as_box(value) -> Box:
    if isinstance(value, Box):
        return value
    if isinstance(value, dict):
        return Box(**value)
    return Box(*value)


def _check_opacity(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"opacity must be in 0..1, got {value}")
    return value


def _check_rgb(rgb) -> RGB:
    rgb = tuple(float(c) for c in rgb)
    if len(rgb) != 3 or not all(0.0 <= c <= 1.0 for c in rgb):
        raise ValueError(f"a colour is three values in 0..1, got {rgb}")
    return rgb


def _check_labels(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"a label map is a 3D integer array, got {array.dtype} {array.shape}")
    if array.size and (array.min() < 0 or array.max() > 65535):
        raise ValueError("labels must lie in 0..65535")
    if array.dtype not in (np.uint8, np.uint16):
        array = array.astype(np.uint8 if array.max(initial=0) < 256 else np.uint16)
    return np.ascontiguousarray(array)


def _check_float(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"a heat map is a 3D array, got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _finite_range(array: np.ndarray) -> tuple[float, float]:
    finite = array[np.isfinite(array)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
