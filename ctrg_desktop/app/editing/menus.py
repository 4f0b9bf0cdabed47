"""The Edit menu (Undo/Redo of report edits) and the Report menu's editing entries:
changes, keywords, Export submenu, copy to clipboard, accept."""

from __future__ import annotations

from functools import partial

from PySide6 import QtCore, QtGui

from ctrg_desktop.app.editing.export_actions import KINDS

Qt = QtCore.Qt


def build_edit_menu(window, action=None) -> list[QtGui.QAction]:
    """The Edit menu (call it right after File is built): Undo / Redo of report edits.

    Their shortcuts (Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y) work while the Report dock has focus, so
    Ctrl+Z stays the mask tools' in the views and a text box's own while one is being edited.
    """
    editing = window.editing
    menu = window.menuBar().addMenu("&Edit")
    window.edit_menu = menu
    made = []
    for text, slot, keys in (("&Undo", editing.undo, ("Ctrl+Z",)),
                             ("&Redo", editing.redo, ("Ctrl+Shift+Z", "Ctrl+Y"))):
        act = QtGui.QAction(text, window)
        act.setShortcuts([QtGui.QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        act.triggered.connect(slot)
        menu.addAction(act)
        editing.panel.addAction(act)
        made.append(act)
    editing.undo_action, editing.redo_action = made
    editing._update_state()
    return made


def extend_report_menu(window, action) -> list[QtGui.QAction]:
    """Editing entries at the end of the Report menu (built by the drafting layer)."""
    editing = window.editing
    menu = window.report_menu
    menu.addSeparator()
    actions = [action(window, menu, "Show &changes...", editing.show_diff, "Ctrl+Shift+K"),
               action(window, menu, "Structure &keywords...", lambda: editing.editor.keywords_of_current())]
    export = menu.addMenu("&Export")
    window.export_menu = export
    for kind, spec in KINDS.items():
        text = spec.title[0].upper() + spec.title[1:] + "..."
        actions.append(action(window, export, text, partial(editing.exports.choose, kind)))
    export.addSeparator()
    actions.append(action(window, export, "Copy report to clip&board", editing.exports.copy_to_clipboard,
                          "Ctrl+Shift+C"))
    menu.addSeparator()
    actions.append(action(window, menu, "&Accept report (add to the corrections dataset)",
                          lambda: editing.acceptor.accept(), "Ctrl+Shift+Return"))
    return actions
