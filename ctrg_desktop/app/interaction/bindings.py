"""Mouse drags of the slice views: one table, read by the views and listed by Help.

A drag is named by its modifiers and button (``"right"``, ``"ctrl+right"``, ``"shift+left"``,
``"middle"``); it does one of :data:`DRAGS`. Window/level follows the usual viewer convention
(OHIF, Slicer, ITK-SNAP): left/right changes the window width (contrast), up/down the level
(brightness; dragging down raises the level, so the image darkens). ``mouse_drag`` in the
settings file overrides entries (e.g. ``{"right": "zoom"}``).
"""

from __future__ import annotations

from PySide6 import QtCore

Qt = QtCore.Qt
DRAGS = {"window": "Window / level (left-right: width, up-down: level)", "zoom": "Zoom (drag up: in)",
         "pan": "Pan"}
DEFAULT_DRAGS = {"right": "window", "shift+left": "window", "ctrl+right": "zoom", "middle": "pan"}
_BUTTONS = {Qt.MouseButton.LeftButton: "left", Qt.MouseButton.RightButton: "right",
            Qt.MouseButton.MiddleButton: "middle"}
#: left drags of the measurement tools and the Measurements list's keys (listed by Help)
TOOL_DRAGS = [("Left drag, Measure tool (M)", "A labelled distance in mm (M1, M2, ...) on the slice"),
              ("Left drag, Ellipse tool (O)", "An ellipse ROI: HU mean, SD, min, max and area in mm²"),
              ("Measurements list: click / F2 / Delete", "Go to its slice / rename / delete the measurement")]


def drag_bindings(overrides: dict | None = None) -> dict[str, str]:
    """The default drags with valid ``overrides`` applied (unknown actions are ignored)."""
    bindings = dict(DEFAULT_DRAGS)
    for key, action in (overrides or {}).items():
        if action in DRAGS and str(key).split("+")[-1] in _BUTTONS.values():
            bindings[str(key).lower()] = action
    return bindings


def drag_name(button, modifiers) -> str:
    """``"ctrl+right"`` etc. for a Qt button and modifiers."""
    parts = [name for flag, name in ((Qt.KeyboardModifier.ControlModifier, "ctrl"),
                                     (Qt.KeyboardModifier.ShiftModifier, "shift"),
                                     (Qt.KeyboardModifier.AltModifier, "alt")) if modifiers & flag]
    return "+".join(parts + [_BUTTONS.get(button, "other")])


def help_rows(bindings: dict[str, str]) -> list[tuple[str, str]]:
    """(drag, what it does) for Help, e.g. ("Right drag", "Window / level ...")."""
    return [(f"{'+'.join(p.capitalize() for p in key.split('+'))} drag", DRAGS[action])
            for key, action in sorted(bindings.items(), key=lambda kv: (kv[1], kv[0]))]
