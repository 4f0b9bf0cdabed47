"""View > Mouse buttons...: what the left, middle and right drags (and Shift+left, Ctrl+right) do
in the slice views: window / level, pan, zoom, or nothing (a plain left drag: the active tool).

The dialog edits a copy of the bindings (:mod:`ctrg_desktop.app.interaction.bindings`); OK
gives them to every slice view and writes them to the settings file (``mouse_drag``), so they
hold after a restart; Help lists them from the same table.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.interaction.bindings import (DEFAULT_DRAGS, DRAGS, SETTABLE, UNBOUND, UNBOUND_TEXT, drag_bindings,
                                                   drag_title, overrides_for)

NOTHING = "Nothing"


class MouseBindingsDialog(QtWidgets.QDialog):
    """One choice per drag of :data:`SETTABLE`; :meth:`bindings` is what is chosen."""

    def __init__(self, bindings: dict[str, str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Mouse buttons")
        self.boxes: dict[str, QtWidgets.QComboBox] = {}
        form = QtWidgets.QFormLayout()
        for key in SETTABLE:
            box = QtWidgets.QComboBox()
            box.addItem(UNBOUND_TEXT.get(key, NOTHING), UNBOUND)
            for action, text in DRAGS.items():
                box.addItem(text, action)
            box.setObjectName(f"drag-{key}")
            form.addRow(drag_title(key), box)
            self.boxes[key] = box
        self.set_bindings(bindings)
        note = QtWidgets.QLabel("Drags in the axial, coronal and sagittal views. The wheel scrolls slices, "
                                "Ctrl+wheel zooms; the 3D view keeps its own (rotate, pan, zoom).")
        note.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel
                                             | QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.defaults_button = buttons.button(QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults)
        self.defaults_button.clicked.connect(lambda: self.set_bindings(DEFAULT_DRAGS))
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def set_bindings(self, bindings: dict[str, str]) -> None:
        for key, box in self.boxes.items():
            box.setCurrentIndex(max(0, box.findData(bindings.get(key, UNBOUND))))

    def choose(self, key: str, action: str) -> None:
        """Pick ``action`` ("window", "pan", "zoom" or "none") for drag ``key`` (as a click does)."""
        if key not in self.boxes:
            raise ValueError(f"{key!r} is not a settable drag; choose one of {', '.join(SETTABLE)}")
        index = self.boxes[key].findData(action)
        if index < 0:
            raise ValueError(f"unknown drag action {action!r}; choose one of {', '.join([*DRAGS, UNBOUND])}")
        self.boxes[key].setCurrentIndex(index)

    def bindings(self) -> dict[str, str]:
        """The bindings chosen (the drags not in the dialog keep their defaults)."""
        return drag_bindings({key: box.currentData() for key, box in self.boxes.items()})


def apply_bindings(window, bindings: dict[str, str]) -> None:
    """Give ``bindings`` to every slice view and keep them in the settings file."""
    for view in window.slice_views.values():
        view.tools.bindings = dict(bindings)
    window.settings["mouse_drag"] = overrides_for(bindings)
    try:
        window.settings.save()
    except OSError as exc:
        window.status.message(f"Cannot save the mouse buttons: {exc}")
        return
    window.status.message("Mouse buttons: " + ", ".join(f"{drag_title(k)} {DRAGS[a].split(' (')[0].lower()}"
                                                        for k, a in bindings.items() if a in DRAGS))


def open_mouse_settings(window) -> MouseBindingsDialog:
    """Open the dialog (non-modal) on the axial view's bindings; OK applies them."""
    dialog = MouseBindingsDialog(window.slice_views["axial"].tools.bindings, window)
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(lambda: apply_bindings(window, dialog.bindings()))
    dialog.open()
    window.mouse_dialog = dialog
    return dialog
