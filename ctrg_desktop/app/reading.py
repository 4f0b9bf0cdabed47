"""Reading tools of the slice views: thick slab (MIP / MinIP / mean), cine playback, and fitting the
slices to the views on layout changes; their View-menu entries, shortcuts and toolbar.

Shortcuts (listed in Help from the actions): T cycles the slab mode (off, MIP, MinIP, mean),
Shift+T turns it off, ] / [ make the slab thicker / thinner, K plays / pauses cine (Esc stops).
The slab thickness and the cine frame rate are remembered in the settings (``slab_mm``,
``cine_fps``); the slab always starts off.
"""

from __future__ import annotations

from functools import partial

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.interaction.cine import MAX_FPS, MIN_FPS, CinePlayer
from ctrg_desktop.app.views.fit import ViewFitter
from ctrg_desktop.app.views.slab import MAX_MM, MIN_MM, SlabSettings, ViewSlab
from ctrg_desktop.imaging.slab import MODE_NAMES, SLAB_MODES


def _setting(settings, key: str, default: float) -> float:
    try:
        return float(settings[key])
    except (KeyError, TypeError, ValueError):
        return default


class ReadingTools(QtCore.QObject):
    """Owns the slab settings (one for the three slice views), each view's slab, the cine player
    and the view fitter of ``window``."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.slab = SlabSettings("off", _setting(window.settings, "slab_mm", 10.0), self)
        for view in window.slice_views.values():
            view.slab = ViewSlab(view, self.slab)
        self.cine = CinePlayer(window, _setting(window.settings, "cine_fps", 10.0))
        self.fitter = ViewFitter(window)
        self.slab.changed.connect(self._remember)

    def _remember(self) -> None:
        try:
            self.window.settings["slab_mm"] = self.slab.thickness_mm
            self.window.settings["cine_fps"] = self.cine.fps
        except KeyError:  # an older Settings without these keys
            pass

    def set_cine_fps(self, fps: float) -> None:
        self.cine.set_fps(fps)
        self._remember()

    def slab_ms(self) -> dict[str, float]:
        """Time of each view's last slab projection (ms)."""
        return {name: view.slab.last_ms for name, view in self.window.slice_views.items()}

    # --- menu and toolbar ------------------------------------------------------------------
    def build_menu(self, view_menu, action) -> list[QtGui.QAction]:
        """Add View > Thick slab and View > Cine, and the Reading toolbar; ``action`` makes a
        registered action like ``window_actions._action``. Returns the actions (Help lists them)."""
        window, slab = self.window, self.slab
        view_menu.addSeparator()
        menu = view_menu.addMenu("Thick &slab")
        self.mode_actions = QtGui.QActionGroup(window)
        actions = []
        for mode in SLAB_MODES:
            act = action(window, menu, f"Slab {MODE_NAMES[mode]}", partial(slab.set_mode, mode),
                         "Shift+T" if mode == "off" else None, checkable=True)
            act.setData(mode)
            self.mode_actions.addAction(act)
            actions.append(act)
        menu.addSeparator()
        actions.append(action(window, menu, "Cycle slab mode (off, MIP, MinIP, mean)", slab.cycle_mode, "T"))
        actions.append(action(window, menu, "Thicker slab", slab.thicker, "]"))
        actions.append(action(window, menu, "Thinner slab", slab.thinner, "["))
        self.cine_action = action(window, view_menu, "Cine play / pause (view under the mouse)",
                                  self.cine.toggle, "K", checkable=True)
        self.cine_action.triggered.connect(lambda: self.cine_action.setChecked(self.cine.playing))
        actions.append(self.cine_action)
        self._build_toolbar()
        slab.changed.connect(self._sync)
        self.cine.playing_changed.connect(self._sync_cine)
        self._sync()
        return actions

    def _build_toolbar(self) -> None:
        window = self.window
        bar = window.addToolBar("Reading")
        bar.setObjectName("reading-toolbar")
        self.mode_box = QtWidgets.QComboBox()
        self.mode_box.addItems([MODE_NAMES[m] for m in SLAB_MODES])
        self.mode_box.setToolTip("Thick slab of the slice views (T cycles, Shift+T off)")
        self.mode_box.currentIndexChanged.connect(lambda n: self.slab.set_mode(SLAB_MODES[n]))
        self.thickness_box = QtWidgets.QDoubleSpinBox()
        self.thickness_box.setRange(MIN_MM, MAX_MM)
        self.thickness_box.setDecimals(1)
        self.thickness_box.setSingleStep(1.0)
        self.thickness_box.setSuffix(" mm")
        self.thickness_box.setToolTip("Slab thickness, centred on the slice (] thicker, [ thinner)")
        self.thickness_box.valueChanged.connect(self.slab.set_thickness)
        self.fps_box = QtWidgets.QSpinBox()
        self.fps_box.setRange(MIN_FPS, MAX_FPS)
        self.fps_box.setSuffix(" fps")
        self.fps_box.setValue(round(self.cine.fps))
        self.fps_box.setToolTip("Cine frame rate")
        self.fps_box.valueChanged.connect(self.set_cine_fps)
        bar.addWidget(QtWidgets.QLabel("Slab "))
        bar.addWidget(self.mode_box)
        bar.addWidget(self.thickness_box)
        bar.addSeparator()
        self.cine_action.setIconText("Cine")
        bar.addAction(self.cine_action)
        bar.addWidget(self.fps_box)
        self.toolbar = bar

    def _sync(self) -> None:
        slab = self.slab
        with QtCore.QSignalBlocker(self.mode_box), QtCore.QSignalBlocker(self.thickness_box):
            self.mode_box.setCurrentIndex(SLAB_MODES.index(slab.mode))
            self.thickness_box.setValue(slab.thickness_mm)
        for act in self.mode_actions.actions():
            act.setChecked(act.data() == slab.mode)

    def _sync_cine(self, playing: bool) -> None:
        self.cine_action.setChecked(playing)
