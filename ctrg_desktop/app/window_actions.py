"""Menus, toolbar and shortcuts of the main window (one table, also listed by the Help dialog)."""

from __future__ import annotations

from functools import partial

from PySide6 import QtGui, QtWidgets

from ctrg_desktop.app.drafting.model_menu import build_report_menu
from ctrg_desktop.app.editing.menus import build_edit_menu, extend_report_menu
from ctrg_desktop.app.mouse_settings import open_mouse_settings
from ctrg_desktop.app.segment.menu import build_segment_menu
from ctrg_desktop.app.views.layout import LAYOUTS
from ctrg_desktop.app.views.volume_presets import VOLUME_PRESETS
from ctrg_desktop.app.wizard import open_training_wizard

Key = QtGui.QKeySequence


def _action(window, menu, text, slot, shortcut=None, checkable=False):
    action = QtGui.QAction(text, window)
    if shortcut is not None:
        action.setShortcut(Key(shortcut))
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    menu.addAction(action)
    window.addAction(action)  # shortcuts work whichever view has focus
    return action


def build_menus(window) -> list[QtGui.QAction]:
    """Create File / View / Overlays / Help menus and the toolbar; returns every action."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    actions = [
        _action(window, file_menu, "&Open file...", window.choose_file, Key.StandardKey.Open),
        _action(window, file_menu, "Open &folder...", window.choose_folder, "Ctrl+Shift+O"),
        _action(window, file_menu, "Open &demo study", window.open_demo_async, "Ctrl+D"),
        _action(window, file_menu, "Open d&raft for review...", window.drafting.choose_draft, "Ctrl+Shift+D"),
    ]
    window.recent_menu = file_menu.addMenu("&Recent studies")
    file_menu.addSeparator()
    actions += [
        _action(window, file_menu, "Save view &screenshot...", window.choose_screenshot, "Ctrl+Shift+S"),
        _action(window, file_menu, "&Cancel loading", window.cancel_loading, "Esc"),
        _action(window, file_menu, "&Quit", window.close, Key.StandardKey.Quit),
    ]
    actions += build_edit_menu(window)
    view_menu = bar.addMenu("&View")
    for n, name in enumerate(LAYOUTS):
        actions.append(_action(window, view_menu, f"Layout {name}", partial(window.set_layout, name),
                               f"Ctrl+{n + 1}"))
    actions.append(_action(window, view_menu, "&Reset views", window.reset_views, "Ctrl+R"))
    window.crosshair_action = _action(window, view_menu, "Show &crosshair", window.set_crosshair_visible,
                                      "C", checkable=True)
    window.crosshair_action.setChecked(True)
    view_menu.addSeparator()
    presets_menu = view_menu.addMenu("Window &presets")
    for n, name in enumerate(window.state.presets):
        shortcut = str(n + 1) if n < 9 else None
        actions.append(_action(window, presets_menu, name, partial(window.set_preset, name), shortcut))
    actions.append(_action(window, presets_menu, "Save current window as preset...",
                           window.save_window_preset))
    actions.append(_action(window, view_menu, "&Mouse buttons...", partial(open_mouse_settings, window)))
    tools_menu = view_menu.addMenu("&Tools")
    window.tool_actions = QtGui.QActionGroup(window)
    for tool, key in (("navigate", "N"), ("window", "W"), ("measure", "M"), ("ellipse", "O")):
        act = _action(window, tools_menu, f"{tool.capitalize()} tool", partial(window.state.set_tool, tool),
                      key, checkable=True)
        act.setChecked(tool == window.state.tool)
        window.tool_actions.addAction(act)
        actions.append(act)
    overlay_menu = bar.addMenu("&Overlays")
    actions.append(_action(window, overlay_menu, "Load &label map...", window.choose_label_map, "Ctrl+L"))
    actions += build_report_menu(window, _action)
    actions += extend_report_menu(window, _action)
    actions += build_segment_menu(window, _action)
    train_menu = bar.addMenu("&Tools")
    actions.append(_action(window, train_menu, "&Train from corrections...", partial(open_training_wizard, window)))
    help_menu = bar.addMenu("&Help")
    actions.append(_action(window, help_menu, "&Keyboard and mouse", window.show_help, Key.StandardKey.HelpContents))
    actions.append(_action(window, help_menu, "&About", window.show_about))
    build_toolbar(window)
    actions += window.reading.build_menu(view_menu, _action)  # thick slab, cine (and their toolbar)
    actions += window.similar.build_menu(view_menu)  # the Similar cases dock
    return actions


def build_toolbar(window) -> None:
    tools = window.addToolBar("Viewer")
    tools.setObjectName("viewer-toolbar")
    window.preset_box = QtWidgets.QComboBox()
    window.preset_box.addItems([*window.state.presets, "custom"])
    window.preset_box.textActivated.connect(lambda name: name != "custom" and window.set_preset(name))
    window.layout_box = QtWidgets.QComboBox()
    window.layout_box.addItems(list(LAYOUTS))
    window.layout_box.textActivated.connect(window.set_layout)
    window.volume_preset_box = QtWidgets.QComboBox()
    window.volume_preset_box.addItems(list(VOLUME_PRESETS))
    window.volume_preset_box.textActivated.connect(window.set_volume_preset)
    for label, widget in (("Window ", window.preset_box), ("  Layout ", window.layout_box),
                          ("  3D ", window.volume_preset_box)):
        tools.addWidget(QtWidgets.QLabel(label))
        tools.addWidget(widget)
    tools.addSeparator()
    for act in window.tool_actions.actions():
        tools.addAction(act)
