"""Arrange the four views: 2x2, 1x3 (the three slice views) or one view maximised."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

LAYOUTS = ("2x2", "1x3", "single")
_GRIDS = {
    "2x2": {"axial": (0, 0), "coronal": (0, 1), "sagittal": (1, 0), "3d": (1, 1)},
    "1x3": {"axial": (0, 0), "coronal": (0, 1), "sagittal": (0, 2)},
}


class ViewLayout(QtWidgets.QWidget):
    """Holds ``views`` (name -> widget); ``active`` is the view that ``single`` maximises;
    ``layout_changed(name)`` after every :meth:`set_layout`."""

    layout_changed = QtCore.Signal(str)

    def __init__(self, views: dict[str, QtWidgets.QWidget], parent=None):
        super().__init__(parent)
        self.views = views
        self.grid = QtWidgets.QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        # tooltips over the views take this style sheet: dark text on a light background
        self.setStyleSheet("QWidget { background: #202020; } "
                           "QToolTip { color: #111111; background: #fffbe6; border: 1px solid #777777; }")
        self.layout_name = "2x2"
        self.active = "axial"
        self._before_single = "2x2"
        for view in views.values():
            view.activated.connect(self._set_active)
        self.set_layout("2x2")

    def _set_active(self, name: str) -> None:
        self.active = name

    def set_layout(self, name: str, focus: str | None = None) -> None:
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}")
        if focus:
            self.active = focus
        if name == "single" and self.layout_name != "single":
            self._before_single = self.layout_name
        for view in self.views.values():
            self.grid.removeWidget(view)
        cells = _GRIDS.get(name, {self.active: (0, 0)})
        for key, view in self.views.items():
            if key in cells:
                self.grid.addWidget(view, *cells[key])
                view.show()
            else:
                view.hide()
        for n in range(3):
            self.grid.setRowStretch(n, 1 if n < (2 if name == "2x2" else 1) else 0)
            self.grid.setColumnStretch(n, 1 if n < {"2x2": 2, "1x3": 3, "single": 1}[name] else 0)
        self.layout_name = name
        for key in cells:
            self.views[key].request_render()
        self.layout_changed.emit(name)

    def toggle_maximised(self, name: str) -> None:
        """Double click: maximise ``name``, or go back to the previous layout."""
        if self.layout_name == "single":
            self.set_layout(self._before_single)
        else:
            self.set_layout("single", focus=name)

    def visible_views(self) -> list[str]:
        return [k for k, v in self.views.items() if v.isVisible()]
