"""The overlay layer list: a checkbox per layer (top layer first) and an opacity slider."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.overlays import LayerList

Qt = QtCore.Qt


class LayerListPanel(QtWidgets.QWidget):
    """Two-way binding: model events refresh the widgets (signals blocked); widgets set the model."""

    def __init__(self, layers: LayerList, parent=None):
        super().__init__(parent)
        self.layers = layers
        self.list = QtWidgets.QListWidget()
        self.opacity = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setEnabled(False)
        self.remove_button = QtWidgets.QPushButton("Remove")
        form = QtWidgets.QFormLayout()
        form.addRow("Opacity", self.opacity)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(form)
        layout.addWidget(self.remove_button)
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentRowChanged.connect(self._row_changed)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.remove_button.clicked.connect(self._remove_current)
        for event in (layers.inserted, layers.removed, layers.moved, layers.layer_changed):
            event.connect(self._refresh)
        self._refresh()

    def _layer_at(self, row: int):
        return self.layers[len(self.layers) - 1 - row] if 0 <= row < len(self.layers) else None

    def _refresh(self, **_) -> None:
        current = self._layer_at(self.list.currentRow())
        blocker = QtCore.QSignalBlocker(self.list)
        self.list.clear()
        for layer in reversed(list(self.layers)):
            item = QtWidgets.QListWidgetItem(f"{layer.name}  ({layer.kind})")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        rows = [n for n in range(self.list.count()) if self._layer_at(n) is current]
        self.list.setCurrentRow(rows[0] if rows else (0 if self.list.count() else -1))
        del blocker
        self._row_changed(self.list.currentRow())

    def _item_changed(self, item) -> None:
        layer = self._layer_at(self.list.row(item))
        if layer is not None:
            layer.visible = item.checkState() == Qt.CheckState.Checked

    def _row_changed(self, row: int) -> None:
        layer = self._layer_at(row)
        self.opacity.setEnabled(layer is not None)
        self.remove_button.setEnabled(layer is not None)
        if layer is not None:
            with QtCore.QSignalBlocker(self.opacity):
                self.opacity.setValue(int(round(layer.opacity * 100)))

    def _opacity_changed(self, value: int) -> None:
        layer = self._layer_at(self.list.currentRow())
        if layer is not None:
            layer.opacity = value / 100.0

    def _remove_current(self) -> None:
        layer = self._layer_at(self.list.currentRow())
        if layer is not None:
            self.layers.remove(layer)

    def set_checked(self, name: str, checked: bool) -> None:
        """Tick or untick a layer's box as a user would."""
        row = len(self.layers) - 1 - self.layers.index(name)
        self.list.item(row).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
