"""State the views share: the volume, the cursor (linked crosshair) and the grey window."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from ctrg_desktop.imaging.display import WINDOW_PRESETS
from ctrg_desktop.io.volume import Volume


class ViewerState(QtCore.QObject):
    """Cursor in voxel indices ``(k, j, i)``; ``cursor_changed`` carries the old cursor tuple."""

    volume_changed = QtCore.Signal()
    cursor_changed = QtCore.Signal(object)
    window_changed = QtCore.Signal(float, float)
    tool_changed = QtCore.Signal(str)

    TOOLS = ("navigate", "window", "measure", "ellipse")

    def __init__(self, presets: dict[str, tuple[float, float]] | None = None, parent=None):
        super().__init__(parent)
        self.presets = dict(presets or WINDOW_PRESETS)
        self.volume: Volume | None = None
        self.cursor = (0, 0, 0)
        self.level, self.width = self.presets.get("mediastinum", (40.0, 400.0))
        self.preset: str | None = "mediastinum"
        self.tool = "navigate"

    def set_volume(self, volume: Volume) -> None:
        self.volume = volume
        self.cursor = tuple(n // 2 for n in volume.shape)
        self.volume_changed.emit()

    def set_cursor(self, kji) -> None:
        """Move the linked cursor (clamped to the volume)."""
        if self.volume is None:
            return
        kji = tuple(int(np.clip(round(float(v)), 0, n - 1)) for v, n in zip(kji, self.volume.shape))
        if kji != self.cursor:
            old, self.cursor = self.cursor, kji
            self.cursor_changed.emit(old)

    def move_slice(self, axis: int, delta: int) -> None:
        cursor = list(self.cursor)
        cursor[axis] += delta
        self.set_cursor(cursor)

    def cursor_world(self) -> np.ndarray:
        return self.volume.voxel_to_world(self.cursor)

    def set_window(self, level: float, width: float, preset: str | None = None) -> None:
        width = max(1.0, float(width))
        self.level, self.width, self.preset = float(level), width, preset
        self.window_changed.emit(self.level, self.width)

    def apply_preset(self, name: str) -> None:
        if name not in self.presets:
            raise ValueError(f"unknown window preset {name!r}; choose one of {', '.join(self.presets)}")
        level, width = self.presets[name]
        self.set_window(level, width, preset=name)

    def set_tool(self, tool: str) -> None:
        if tool not in self.TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tool = tool
        self.tool_changed.emit(tool)

    def value_at(self, kji) -> float | None:
        """HU at integer voxel ``kji`` or ``None`` outside the volume."""
        if self.volume is None:
            return None
        idx = tuple(int(round(float(v))) for v in kji)
        if all(0 <= v < n for v, n in zip(idx, self.volume.shape)):
            return float(self.volume.array[idx])
        return None
