"""The structures dock: colour swatch, name and an on/off box per structure of the draft, and
beneath each the model's observations for it (:mod:`.observations`), when the draft has any.

Ticking a structure shows its evidence (attention heat map and top-K patch boxes) in every
view; ``toggled(index, on)`` carries the user's change, ``set_checked`` changes it as a user would.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.drafting.observations import ROLE, ObservationDelegate, line, tooltip
from ctrg_desktop.app.drafting.report_model import swatch

Qt = QtCore.Qt


class StructurePanel(QtWidgets.QWidget):
    toggled = QtCore.Signal(int, bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QtWidgets.QListWidget()
        self.list.setItemDelegate(ObservationDelegate(self.list))
        self.list.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)  # re-wrap the lines on resize
        self.all_button = QtWidgets.QPushButton("All")
        self.none_button = QtWidgets.QPushButton("None")
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.all_button)
        buttons.addWidget(self.none_button)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.list.itemChanged.connect(self._item_changed)
        self.all_button.clicked.connect(lambda: self._set_all(True))
        self.none_button.clicked.connect(lambda: self._set_all(False))
        self.set_structures([])

    def set_structures(self, structures, observations=None) -> None:
        """``structures``: (index, name, colour "#rrggbb", sentence count) tuples; all start unticked.
        ``observations``: structure name -> its observations, most probable first (none: no lines)."""
        observations = observations or {}
        with QtCore.QSignalBlocker(self.list):
            self.list.clear()
            for index, name, colour, count in structures:
                item = QtWidgets.QListWidgetItem(swatch(colour), f"{name}  ({count})" if count else name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setData(Qt.ItemDataRole.UserRole, int(index))
                tip = f"{name}: {count} sentence(s) in the draft" if count else f"{name}: not mentioned in the draft"
                found = tuple(observations.get(name, ()))
                if found:
                    item.setData(ROLE, found)
                    item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, line(found))
                    tip += "\n\n" + tooltip(found)
                item.setToolTip(tip)
                self.list.addItem(item)
        enabled = bool(structures)
        self.all_button.setEnabled(enabled)
        self.none_button.setEnabled(enabled)

    def _item(self, index: int):
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == index:
                return item
        raise KeyError(f"no structure {index} in the panel")

    def observation_line(self, index: int) -> str:
        """Structure ``index``'s observations as shown ("Cardiomegaly 91 % · ..."); "" when none."""
        return line(self._item(index).data(ROLE) or ())

    def is_checked(self, index: int) -> bool:
        return self._item(index).checkState() == Qt.CheckState.Checked

    def checked(self) -> list[int]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())
                if self.list.item(r).checkState() == Qt.CheckState.Checked]

    def set_checked(self, index: int, on: bool) -> None:
        """Tick or untick as a user would (``toggled`` follows when the state changes)."""
        self._item(index).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def show_checked(self, index: int, on: bool) -> None:
        """Reflect a state changed elsewhere (no ``toggled``)."""
        with QtCore.QSignalBlocker(self.list):
            self._item(index).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def highlight(self, index: int | None) -> None:
        """Make structure ``index`` the current row (no signal)."""
        with QtCore.QSignalBlocker(self.list):
            if index is None:
                self.list.setCurrentRow(-1)
            else:
                self.list.setCurrentItem(self._item(index))

    def _set_all(self, on: bool) -> None:
        for row in range(self.list.count()):
            self.list.item(row).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _item_changed(self, item) -> None:
        self.toggled.emit(int(item.data(Qt.ItemDataRole.UserRole)), item.checkState() == Qt.CheckState.Checked)
