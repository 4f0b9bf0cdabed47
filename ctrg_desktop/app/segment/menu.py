"""The Segment menu and toolbar: SAM prompt tools, brush / erase, segment a structure,
propagate, masks, undo / redo, save / open masks files."""

from __future__ import annotations

from functools import partial

from PySide6 import QtCore, QtGui

from ctrg_desktop.app.segment.tools import SEGMENT_TOOLS

Qt = QtCore.Qt
#: tool name -> shortcut
TOOL_KEYS = {"positive point": "P", "negative point": "Shift+P", "box prompt": "B", "brush": "Shift+B",
             "erase": "E"}


def _view_action(window, menu, text, slot, shortcut) -> QtGui.QAction:
    """An action whose shortcut works while a slice view or the Masks panel has focus (so
    Ctrl+Z in a text editor stays the editor's)."""
    action = QtGui.QAction(text, window)
    action.setShortcut(QtGui.QKeySequence(shortcut))
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.triggered.connect(slot)
    menu.addAction(action)
    window.layout_widget.addAction(action)
    window.segmentation.panel.addAction(action)
    return action


def build_segment_menu(window, action) -> list[QtGui.QAction]:
    """Add the Segment menu and toolbar (``action`` makes a registered action like
    ``window_actions._action``); returns the actions for the help list."""
    seg = window.segmentation
    menu = window.menuBar().addMenu("&Segment")
    window.segment_menu = menu
    tool_actions = []
    for tool, text in SEGMENT_TOOLS.items():
        act = action(window, menu, text, partial(seg.set_tool, tool), TOOL_KEYS[tool], checkable=True)
        act.setData(tool)
        tool_actions.append(act)
    window.segment_tool_actions = tool_actions

    def sync(tool: str) -> None:
        for act in tool_actions:
            act.setChecked(act.data() == tool)

    window.state.tool_changed.connect(sync)
    menu.addSeparator()
    actions = list(tool_actions)
    actions.append(action(window, menu, "Segment &structure", lambda: seg.segment_structure(), "Ctrl+J"))
    actions.append(action(window, menu, "&Propagate in 3D", lambda: seg.propagate(), "Ctrl+Shift+J"))
    actions.append(action(window, menu, "Cancel propagation", seg.cancel))
    menu.addSeparator()
    actions.append(action(window, menu, "&New mask", lambda: seg.new_mask()))
    actions.append(action(window, menu, "&Delete mask", lambda: seg.delete_mask()))
    actions.append(_view_action(window, menu, "&Undo mask edit", seg.undo, "Ctrl+Z"))
    actions.append(_view_action(window, menu, "&Redo mask edit", seg.redo, "Ctrl+Shift+Z"))
    actions.append(action(window, menu, "Show &masks panel", seg.show_dock))
    menu.addSeparator()
    files = window.editing.files
    actions.append(action(window, menu, "Sa&ve masks...", lambda: files.choose_masks()))
    actions.append(action(window, menu, "&Open masks...", files.choose_masks_to_open))
    toolbar = window.addToolBar("Segment")
    toolbar.setObjectName("segment-toolbar")
    for act in tool_actions:
        toolbar.addAction(act)
    toolbar.addSeparator()
    for text in ("Segment &structure", "&Propagate in 3D"):
        toolbar.addAction(next(a for a in actions if a.text() == text))
    return actions
