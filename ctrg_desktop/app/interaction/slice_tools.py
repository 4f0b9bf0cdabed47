"""Mouse and keyboard in a slice view.

* wheel, arrow keys, Page Up/Down (10 slices), Home/End: scroll slices; Ctrl+wheel: zoom
* left button: move the linked crosshair (tool "navigate"), window/level (tool "window", or
  Shift+left anywhere), or a tool in ``handlers`` (the measurements' line and ellipse, the
  Segment menu's prompts and brush); first, each of ``grabbers`` may take the press (a
  measurement's handle under the mouse is dragged instead)
* other drags: :mod:`.bindings` (right: window/level, middle: pan, Ctrl+right: zoom); R: reset
* double click: maximise / restore the view (the layout's ``double_clicked``); the crosshair
  stays where it was before the double click's first press
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.interaction.bindings import drag_bindings, drag_name

Qt = QtCore.Qt


class SliceTools:
    """Turns Qt events on a :class:`SliceView` into state and camera changes."""

    def __init__(self, view):
        self.view = view
        self.drag: str | None = None
        self.start = None
        self.start_value = None
        self.double_clicked = None  # callable(view name), set by the layout
        self.handlers: dict = {}  # more left-button tools: name -> object with press/move/release(view, x, y)
        self.grabbers: list = []  # callables (view, x, y) -> such an object for this press, or None
        self.bindings = drag_bindings()  #: drag name ("right", "ctrl+right"...) -> window / zoom / pan
        self._presses: list[tuple[float, tuple]] = []  # (time, cursor before) of recent left presses

    @property
    def state(self):
        return self.view.state

    def _pos(self, event) -> tuple[float, float]:
        p = event.position()
        return p.x(), p.y()

    def press(self, event) -> None:
        if self.state.volume is None:
            return
        button, mods = event.button(), event.modifiers()
        x, y = self._pos(event)
        self.start = (x, y)
        action = self.bindings.get(drag_name(button, mods))
        if action == "pan":
            self.drag, self.start_value = "pan", self.view.display_to_world(x, y)
        elif action == "zoom":
            self.drag, self.start_value = "zoom", self.view.renderer.GetActiveCamera().GetParallelScale()
        elif action == "window":
            self.drag, self.start_value = "window", (self.state.level, self.state.width)
        elif button == Qt.MouseButton.LeftButton:
            tool = self.state.tool
            self._presses = [*self._presses[-1:], (time.monotonic(), self.state.cursor)]
            grabbed = next((g for g in (grab(self.view, x, y) for grab in self.grabbers) if g is not None), None)
            if grabbed is not None:
                self.drag, self.start_value = "handler", grabbed
                grabbed.press(self.view, x, y)
            elif tool == "window":
                self.drag, self.start_value = "window", (self.state.level, self.state.width)
            elif tool in self.handlers:
                self.drag, self.start_value = "handler", self.handlers[tool]
                self.start_value.press(self.view, x, y)
            else:
                self.drag = "navigate"
                self.click_to_cursor(x, y)

    def move(self, event) -> None:
        if self.state.volume is None:
            return
        x, y = self._pos(event)
        if self.drag is None:
            self.hover(x, y)
            return
        dx, dy = x - self.start[0], y - self.start[1]
        if self.drag == "navigate":
            self.click_to_cursor(x, y)
        elif self.drag == "window":
            level, width = self.start_value
            self.state.set_window(level + 2.0 * dy, max(1.0, width + 4.0 * dx))
        elif self.drag == "zoom":
            camera = self.view.renderer.GetActiveCamera()
            camera.SetParallelScale(self.start_value * math.exp(dy / 150.0))
            self.view.request_render()
        elif self.drag == "pan":
            here = self.view.display_to_world(x, y)
            self.view.pan(self.start_value - here)
        elif self.drag == "handler":
            self.start_value.move(self.view, x, y)

    def release(self, event) -> None:
        if self.drag == "handler":
            x, y = self._pos(event)
            self.start_value.release(self.view, x, y)
        self.drag = None

    def double_click(self, event) -> None:
        """Maximise / restore; the crosshair goes back to where it was before the first click."""
        self.drag = None
        interval = QtWidgets.QApplication.doubleClickInterval() / 1000.0 + 0.25
        recent = [cursor for t, cursor in self._presses if time.monotonic() - t <= interval]
        if recent and event.button() == Qt.MouseButton.LeftButton:
            self.state.set_cursor(recent[0])
        self._presses = []
        if self.double_clicked is not None:
            self.double_clicked(self.view.name)

    def click_to_cursor(self, x: float, y: float) -> None:
        """Move the crosshair to the clicked point (the view's own slice stays)."""
        kji = self.state.volume.world_to_voxel(self.view.display_to_world(x, y))
        kji[self.view.axis] = self.state.cursor[self.view.axis]
        self.state.set_cursor(np.round(kji))

    def hover(self, x: float, y: float) -> None:
        world = self.view.display_to_world(x, y)
        kji = np.round(self.state.volume.world_to_voxel(world)).astype(int)
        self.view.hovered.emit(tuple(int(v) for v in kji), world, self.state.value_at(kji))

    def wheel(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if not steps or self.state.volume is None:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.view.zoom(1.1 ** steps)
        else:
            self.state.move_slice(self.view.axis, int(math.copysign(max(1, round(abs(steps))), steps)))

    def key(self, event) -> bool:
        """Handle a key press; False when the key is not ours."""
        if self.state.volume is None:
            return False
        key = event.key()
        n = self.state.volume.shape[self.view.axis]
        steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Right: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_Left: -1,
                 Qt.Key.Key_PageUp: 10, Qt.Key.Key_PageDown: -10, Qt.Key.Key_Home: -n, Qt.Key.Key_End: n}
        if key in steps:
            self.state.move_slice(self.view.axis, steps[key])
        elif key == Qt.Key.Key_R and not event.modifiers():
            self.view.reset_view()
            self.view.request_render()
        else:
            return False
        return True
