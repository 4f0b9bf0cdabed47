"""Reading tools of the slice views: thick slab (MIP / MinIP / mean), cine playback, and fitting the
slices to the views on layout changes; their View-menu entries, shortcuts and toolbar.

Each slice view has its own slab (:mod:`ctrg_desktop.app.views.slab`). Shortcuts (listed in
Help from the actions) change the slab of the view under the mouse, else of the active (last
clicked) view: T cycles the slab mode (off, MIP, MinIP, mean), Shift+T turns it off, ] / [ make
the slab thicker / thinner; "Same slab in every view" copies it to the other two. The Reading
toolbar shows and sets the active view's slab (its label names the view). K plays / pauses
cine (Esc stops). The last slab thickness and the cine frame rate are remembered in the
settings (``slab_mm``, ``cine_fps``); the slabs always start off.
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
    """Owns each slice view's slab settings (``slabs``: view name -> SlabSettings) and slab, the
    cine player and the view fitter of ``window``."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        thickness = _setting(window.settings, "slab_mm", 10.0)
        self.slabs = {name: SlabSettings("off", thickness, self) for name in window.slice_views}
        for name, view in window.slice_views.items():
            view.slab = ViewSlab(view, self.slabs[name])
            self.slabs[name].changed.connect(lambda name=name: self._remember(name))
        self.cine = CinePlayer(window, _setting(window.settings, "cine_fps", 10.0))
        self.fitter = ViewFitter(window)

    def target_name(self) -> str:
        """The slice view the slab shortcuts change: under the mouse, else the active one, else
        the first visible (else axial)."""
        views = self.window.slice_views
        router = getattr(self.window, "key_router", None)
        under = router.under_mouse if router is not None else None
        if under is not None and under.isVisible():
            return under.name
        active = self.window.layout_widget.active
        if active in views and views[active].isVisible():
            return active
        return next((n for n, v in views.items() if v.isVisible()), "axial")

    @property
    def slab(self) -> SlabSettings:
        """The slab of :meth:`target_name`'s view."""
        return self.slabs[self.target_name()]

    def same_slab_everywhere(self) -> None:
        """Give every slice view the slab (mode and thickness) of the target view."""
        source = self.slab
        for settings in self.slabs.values():
            settings.set_thickness(source.thickness_mm)
            settings.set_mode(source.mode)

    def _remember(self, name: str | None = None) -> None:
        try:
            if name is not None:
                self.window.settings["slab_mm"] = self.slabs[name].thickness_mm
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
        window = self.window
        view_menu.addSeparator()
        menu = view_menu.addMenu("Thick &slab")
        self.mode_actions = QtGui.QActionGroup(window)
        actions = []
        for mode in SLAB_MODES:
            act = action(window, menu, f"Slab {MODE_NAMES[mode]}", partial(self._on_target, "set_mode", mode),
                         "Shift+T" if mode == "off" else None, checkable=True)
            act.setData(mode)
            self.mode_actions.addAction(act)
            actions.append(act)
        menu.addSeparator()
        actions.append(action(window, menu, "Cycle slab mode (off, MIP, MinIP, mean)",
                              partial(self._on_target, "cycle_mode"), "T"))
        actions.append(action(window, menu, "Thicker slab", partial(self._on_target, "thicker"), "]"))
        actions.append(action(window, menu, "Thinner slab", partial(self._on_target, "thinner"), "["))
        actions.append(action(window, menu, "Same slab in every view", self.same_slab_everywhere))
        self.cine_action = action(window, view_menu, "Cine play / pause (view under the mouse)",
                                  self.cine.toggle, "K", checkable=True)
        self.cine_action.triggered.connect(lambda: self.cine_action.setChecked(self.cine.playing))
        actions.append(self.cine_action)
        self._build_toolbar()
        for settings in self.slabs.values():
            settings.changed.connect(self._sync)
        for view in window.slice_views.values():
            view.activated.connect(lambda _name: self._sync())
        self.cine.playing_changed.connect(self._sync_cine)
        self._sync()
        return actions

    def _on_target(self, method: str, *args) -> None:
        """A slab shortcut: ``method`` of the target view's slab; the toolbar follows that view."""
        name = self.target_name()
        getattr(self.slabs[name], method)(*args)
        self._sync(name)

    def _build_toolbar(self) -> None:
        window = self.window
        bar = window.addToolBar("Reading")
        bar.setObjectName("reading-toolbar")
        self.mode_box = QtWidgets.QComboBox()
        self.mode_box.addItems([MODE_NAMES[m] for m in SLAB_MODES])
        self.mode_box.setToolTip("Thick slab of the active slice view (T cycles, Shift+T off, "
                                 "for the view under the mouse)")
        self.mode_box.currentIndexChanged.connect(lambda n: self._shown_slab().set_mode(SLAB_MODES[n]))
        self.thickness_box = QtWidgets.QDoubleSpinBox()
        self.thickness_box.setRange(MIN_MM, MAX_MM)
        self.thickness_box.setDecimals(1)
        self.thickness_box.setSingleStep(1.0)
        self.thickness_box.setSuffix(" mm")
        self.thickness_box.setToolTip("Slab thickness, centred on the slice (] thicker, [ thinner)")
        self.thickness_box.valueChanged.connect(lambda mm: self._shown_slab().set_thickness(mm))
        self.fps_box = QtWidgets.QSpinBox()
        self.fps_box.setRange(MIN_FPS, MAX_FPS)
        self.fps_box.setSuffix(" fps")
        self.fps_box.setValue(round(self.cine.fps))
        self.fps_box.setToolTip("Cine frame rate")
        self.fps_box.valueChanged.connect(self.set_cine_fps)
        self.slab_label = QtWidgets.QLabel("Slab ")
        bar.addWidget(self.slab_label)
        bar.addWidget(self.mode_box)
        bar.addWidget(self.thickness_box)
        bar.addSeparator()
        self.cine_action.setIconText("Cine")
        bar.addAction(self.cine_action)
        bar.addWidget(self.fps_box)
        self.toolbar = bar

    def _shown_slab(self) -> SlabSettings:
        """The slab the toolbar shows (the active view's, or the last one a shortcut changed)."""
        return self.slabs[getattr(self, "_shown", None) or self.target_name()]

    def _sync(self, name: str | None = None) -> None:
        """The toolbar and the menu's check marks show view ``name``'s slab (default: the active view's)."""
        views = self.window.slice_views
        active = self.window.layout_widget.active
        self._shown = name or (active if active in views else self.target_name())
        slab = self.slabs[self._shown]
        self.slab_label.setText(f"Slab ({self._shown}) ")
        with QtCore.QSignalBlocker(self.mode_box), QtCore.QSignalBlocker(self.thickness_box):
            self.mode_box.setCurrentIndex(SLAB_MODES.index(slab.mode))
            self.thickness_box.setValue(slab.thickness_mm)
        for act in self.mode_actions.actions():
            act.setChecked(act.data() == slab.mode)

    def _sync_cine(self, playing: bool) -> None:
        self.cine_action.setChecked(playing)
