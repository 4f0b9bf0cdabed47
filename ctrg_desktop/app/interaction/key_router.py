"""Slice keys go to the slice view under the mouse, whichever widget has the keyboard focus.

Arrows, Page Up/Down and Home/End (no modifier) pressed anywhere in the window while the mouse
is over a slice view scroll that view; a text editor being typed into, and a slice view that has
the focus, keep them. Elsewhere the keys go to the focused widget as usual (the Report list, when
it is focused and under the mouse).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

Qt = QtCore.Qt
SLICE_KEYS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_PageUp,
              Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End}
TEXT_INPUTS = (QtWidgets.QLineEdit, QtWidgets.QTextEdit, QtWidgets.QPlainTextEdit, QtWidgets.QAbstractSpinBox,
               QtWidgets.QComboBox)


class KeyRouter(QtCore.QObject):
    """Installed on the application by the window; ``under_mouse`` is the slice view the pointer is over."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.under_mouse = None
        for view in window.slice_views.values():
            view.installEventFilter(self)
        QtWidgets.QApplication.instance().installEventFilter(self)
        window.destroyed.connect(self._remove)

    def _remove(self, *_):
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802
        kind = event.type()
        if kind in (QtCore.QEvent.Type.Enter, QtCore.QEvent.Type.MouseMove) and obj in self.window.slice_views.values():
            self.under_mouse = obj
        elif kind == QtCore.QEvent.Type.Leave and obj is self.under_mouse:
            self.under_mouse = None
        elif kind == QtCore.QEvent.Type.KeyPress and self._route(obj, event):
            return True
        return False

    def _route(self, obj, event) -> bool:
        view = self.under_mouse
        if (event.key() not in SLICE_KEYS or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
                or view is None or obj is view or not view.isVisible()):
            return False
        if obj in self.window.slice_views.values():
            return False  # a slice view with the keyboard focus scrolls itself
        if not isinstance(obj, QtWidgets.QWidget) or obj.window() is not self.window:
            return False
        if isinstance(obj, TEXT_INPUTS) or isinstance(obj.parentWidget(), TEXT_INPUTS):
            return False  # typing: the editor keeps its keys
        return view.tools.key(event)
