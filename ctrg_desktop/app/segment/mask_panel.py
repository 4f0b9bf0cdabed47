"""The Masks dock: the study's masks (tick = visible, double click = rename; voxels and volume in
mL), opacity, structure, delete, undo/redo, brush size, and the Segment structure / Propagate buttons."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.imaging.volumetry import format_ml, mask_volume_ml

Qt = QtCore.Qt
NO_STRUCTURE = "(no structure)"


class MaskPanel(QtWidgets.QWidget):
    """Widgets call the controller; :meth:`refresh` rebuilds them from its :class:`MaskSet`."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self._in_change = self._deferred = False
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Mask", "Structure", "Voxels", "Volume"])
        self.tree.setRootIsDecorated(False)
        self.tree.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.DoubleClicked
                                  | QtWidgets.QAbstractItemView.EditTrigger.EditKeyPressed)
        header = self.tree.header()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.opacity = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.structure = QtWidgets.QComboBox()
        self.brush = QtWidgets.QDoubleSpinBox()
        self.brush.setRange(0.5, 50.0)
        self.brush.setSingleStep(0.5)
        self.brush.setSuffix(" mm")
        self.brush.setValue(controller.brush_mm)
        self.new_button = QtWidgets.QPushButton("New")
        self.delete_button = QtWidgets.QPushButton("Delete")
        self.undo_button = QtWidgets.QPushButton("Undo")
        self.redo_button = QtWidgets.QPushButton("Redo")
        self.segment_button = QtWidgets.QPushButton("Segment structure")
        self.propagate_button = QtWidgets.QPushButton("Propagate in 3D")
        self.note = QtWidgets.QLabel()
        self.note.setWordWrap(True)
        form = QtWidgets.QFormLayout()
        form.addRow("Opacity", self.opacity)
        form.addRow("Structure", self.structure)
        form.addRow("Brush radius", self.brush)
        edit_row = QtWidgets.QHBoxLayout()
        for button in (self.new_button, self.delete_button, self.undo_button, self.redo_button):
            edit_row.addWidget(button)
        sam_row = QtWidgets.QHBoxLayout()
        sam_row.addWidget(self.segment_button)
        sam_row.addWidget(self.propagate_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addLayout(form)
        layout.addLayout(edit_row)
        layout.addLayout(sam_row)
        layout.addWidget(self.note)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(lambda item, _old: self._current_changed(item))
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.structure.currentTextChanged.connect(self._structure_changed)
        self.brush.valueChanged.connect(lambda mm: setattr(controller, "brush_mm", float(mm)))
        self.new_button.clicked.connect(lambda: controller.new_mask())
        self.delete_button.clicked.connect(lambda: controller.delete_mask())
        self.undo_button.clicked.connect(controller.undo)
        self.redo_button.clicked.connect(controller.redo)
        self.segment_button.clicked.connect(lambda: controller.segment_structure())
        self.propagate_button.clicked.connect(lambda: controller.propagate())
        self.refresh()

    # ------------------------------------------------------------------------------ model -> view
    def refresh(self) -> None:
        if self._in_change:  # never rebuild the tree inside its own itemChanged
            if not self._deferred:
                self._deferred = True
                QtCore.QTimer.singleShot(0, self._deferred_refresh)
            return
        masks = self.controller.masks
        active = self.controller.active
        with QtCore.QSignalBlocker(self.tree):
            self.tree.clear()
            for mask in masks or ():
                voxels = mask.voxels
                item = QtWidgets.QTreeWidgetItem([mask.name, mask.structure or "", f"{voxels:,}",
                                                  self._volume_text(voxels)])
                item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setData(0, Qt.ItemDataRole.UserRole, mask.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Checked if mask.visible else Qt.CheckState.Unchecked)
                item.setIcon(0, _swatch(mask.colour))
                item.setToolTip(0, f"{mask.name}: {mask.algorithm or 'manual'} mask, colour {mask.colour}")
                self.tree.addTopLevelItem(item)
                if mask.name == active:
                    self.tree.setCurrentItem(item)
        self._sync_controls()

    def _volume_text(self, voxels: int) -> str:
        """The mask's volume in mL (voxels x the study's voxel volume); '' without a study."""
        volume = getattr(self.controller, "volume", None)
        if volume is None:
            return ""
        return format_ml(mask_volume_ml(voxels, volume.spacing))

    def _sync_controls(self) -> None:
        mask = self.controller.active_mask()
        with QtCore.QSignalBlocker(self.structure):
            self.structure.clear()
            names = self.controller.structure_names()
            if mask is not None and mask.structure and mask.structure not in names:
                names = [*names, mask.structure]
            self.structure.addItems([NO_STRUCTURE, *names])
            self.structure.setCurrentText(mask.structure if mask is not None and mask.structure else NO_STRUCTURE)
        with QtCore.QSignalBlocker(self.opacity):
            self.opacity.setValue(int(round((mask.opacity if mask is not None else 0.5) * 100)))
        for widget in (self.opacity, self.structure, self.delete_button):
            widget.setEnabled(mask is not None)
        masks = self.controller.masks
        self.undo_button.setEnabled(bool(masks and masks.can_undo))
        self.redo_button.setEnabled(bool(masks and masks.can_redo))
        self.undo_button.setToolTip(f"Undo {masks.undo_text}" if masks and masks.can_undo else "")
        self.redo_button.setToolTip(f"Redo {masks.redo_text}" if masks and masks.can_redo else "")

    def item_of(self, name: str):
        for n in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(n)
            if item.data(0, Qt.ItemDataRole.UserRole) == name:
                return item
        return None

    # ------------------------------------------------------------------------------ view -> model
    def _current_changed(self, item) -> None:
        if item is not None:
            self.controller.set_active(item.data(0, Qt.ItemDataRole.UserRole))
            self._sync_controls()

    def _deferred_refresh(self) -> None:
        self._deferred = False
        self.refresh()

    def _item_changed(self, item, column: int) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole)
        if column != 0 or name not in (self.controller.masks or ()):
            return
        visible, text = item.checkState(0) == Qt.CheckState.Checked, item.text(0)
        self._in_change = True
        try:
            if visible != self.controller.masks.get(name).visible:
                self.controller.masks.set_visible(name, visible)
            if text != name:
                self.controller.rename_mask(name, text)
        finally:
            self._in_change = False

    def _opacity_changed(self, value: int) -> None:
        mask = self.controller.active_mask()
        if mask is not None:
            self.controller.masks.set_opacity(mask.name, value / 100.0)

    def _structure_changed(self, text: str) -> None:
        mask = self.controller.active_mask()
        if mask is not None:
            self.controller.assign_mask(mask.name, None if text == NO_STRUCTURE else text)


def _swatch(colour: str) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(12, 12)
    pixmap.fill(QtGui.QColor(colour))
    return QtGui.QIcon(pixmap)
