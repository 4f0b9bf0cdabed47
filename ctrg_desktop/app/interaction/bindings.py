"""Mouse drags of the slice views: one table, read by the views and listed by Help.

A drag is named by its modifiers and button (``"right"``, ``"ctrl+right"``, ``"shift+left"``,
``"middle"``); it does one of :data:`DRAGS`. Window/level follows the usual viewer convention
(OHIF, Slicer, ITK-SNAP): left/right changes the window width (contrast), up/down the level
(brightness; dragging down raises the level, so the image darkens). ``mouse_drag`` in the
settings file overrides entries (e.g. ``{"right": "zoom"}``; ``"none"`` unbinds one, so a plain
left drag goes back to the active tool); View > Mouse buttons... edits them
(:mod:`ctrg_desktop.app.mouse_settings`) for the drags of :data:`SETTABLE`. Help lists the
bindings in force from the same table (:func:`help_rows`), so the two never disagree.
"""

from __future__ import annotations

from PySide6 import QtCore

Qt = QtCore.Qt
DRAGS = {"window": "Window / level (left-right: width, up-down: level)", "zoom": "Zoom (drag up: in)",
         "pan": "Pan"}
DEFAULT_DRAGS = {"right": "window", "shift+left": "window", "ctrl+right": "zoom", "middle": "pan"}
#: the drags the Mouse buttons dialog sets, in its order
SETTABLE = ("left", "middle", "right", "shift+left", "ctrl+right")
#: an override that unbinds a drag (a plain left drag then uses the active tool)
UNBOUND = "none"
#: what an unbound drag does, for the dialog and Help
UNBOUND_TEXT = {"left": "The active tool (crosshair, window/level, measure, segment)"}
_BUTTONS = {Qt.MouseButton.LeftButton: "left", Qt.MouseButton.RightButton: "right",
            Qt.MouseButton.MiddleButton: "middle"}
#: left drags of the measurement tools and the Measurements list's keys (listed by Help)
TOOL_DRAGS = [("Left drag, Measure tool (M)", "A labelled distance in mm (M1, M2, ...) on the slice"),
              ("Left drag, Ellipse tool (O)", "An ellipse ROI: HU mean, SD, min, max and area in mm²"),
              ("Left drag on a measurement's handle (dot)",
               "Move that end (line) or side (ellipse), or the whole of it (middle dot); the value follows"),
              ("Delete in a view", "Delete the selected measurement"),
              ("Ctrl+Z / Ctrl+Shift+Z in a view", "Undo / redo the latest measurement or mask change made there"),
              ("Measurements list: click / F2 / Delete", "Go to its slice / rename / delete the measurement"),
              ("Measurements list: Ctrl+Z / Ctrl+Shift+Z", "Undo / redo a measurement change")]


def drag_bindings(overrides: dict | None = None) -> dict[str, str]:
    """The default drags with valid ``overrides`` applied (``"none"`` removes one; unknown
    actions and buttons are ignored, as a damaged settings file must not stop the app)."""
    bindings = dict(DEFAULT_DRAGS)
    for key, action in (overrides or {}).items() if isinstance(overrides, dict) else ():
        key = str(key).lower()
        if key.split("+")[-1] not in _BUTTONS.values():
            continue
        if action == UNBOUND:
            bindings.pop(key, None)
        elif action in DRAGS:
            bindings[key] = action
    return bindings


def overrides_for(bindings: dict[str, str]) -> dict[str, str]:
    """The ``mouse_drag`` setting that gives ``bindings``: each settable drag's action or "none"."""
    return {key: bindings.get(key, UNBOUND) for key in SETTABLE}


def drag_title(key: str) -> str:
    """``"ctrl+right"`` -> ``"Ctrl+Right drag"``."""
    return f"{'+'.join(p.capitalize() for p in key.split('+'))} drag"


def drag_name(button, modifiers) -> str:
    """``"ctrl+right"`` etc. for a Qt button and modifiers."""
    parts = [name for flag, name in ((Qt.KeyboardModifier.ControlModifier, "ctrl"),
                                     (Qt.KeyboardModifier.ShiftModifier, "shift"),
                                     (Qt.KeyboardModifier.AltModifier, "alt")) if modifiers & flag]
    return "+".join(parts + [_BUTTONS.get(button, "other")])


def help_rows(bindings: dict[str, str]) -> list[tuple[str, str]]:
    """(drag, what it does) for Help, e.g. ("Right drag", "Window / level ..."), plus the left
    drag's tool while the left button is not bound."""
    rows = [(drag_title(key), DRAGS[action])
            for key, action in sorted(bindings.items(), key=lambda kv: (kv[1], kv[0])) if action in DRAGS]
    if "left" not in bindings:
        rows.insert(0, ("Left click / drag", "Move the linked crosshair (Navigate tool), window/level or measure"))
    return rows
