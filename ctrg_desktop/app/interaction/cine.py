"""Cine: play the slices of one slice view at a set frame rate, looping (a QTimer, no busy loop).

The view is the slice view under the mouse when playback starts, else the active (last focused)
view, else the first visible one. Each tick moves the linked cursor one slice along that view's
axis (after the last slice: the first), so the other views' crosshairs follow and a thick slab
slides with it. Playback stops on the shortcut again, Esc (the window's Cancel action), a new
study, a wheel scroll or a slice key (arrows, Page Up/Down, Home/End) anywhere, and whenever the
played view's slice is moved by anything but the player (a click in another view, a jump to a
report sentence).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.interaction.key_router import SLICE_KEYS

Qt = QtCore.Qt
MIN_FPS, MAX_FPS = 1, 30


class CinePlayer(QtCore.QObject):
    """``playing_changed(bool)`` when playback starts or stops; ``frames`` counts ticks of this run."""

    playing_changed = QtCore.Signal(bool)

    def __init__(self, window, fps: float = 10.0):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.view = None  # the slice view being played
        self.frames = 0
        self.fps = 10.0
        self._stepping = False
        self._filtering = False
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._step)
        self.set_fps(fps)
        self.state.cursor_changed.connect(self._on_cursor)
        self.state.volume_changed.connect(self.stop)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def set_fps(self, fps: float) -> None:
        self.fps = float(min(max(float(fps), MIN_FPS), MAX_FPS))
        self.timer.setInterval(max(1, round(1000.0 / self.fps)))

    def toggle(self) -> None:
        """The shortcut: play the view under the mouse, or stop."""
        if self.playing:
            self.stop()
        else:
            self.start()

    def target_view(self):
        """The slice view to play: under the mouse, else the active one, else the first visible."""
        views = self.window.slice_views
        router = getattr(self.window, "key_router", None)
        under = router.under_mouse if router is not None else None
        if under is not None and under.isVisible():
            return under
        active = views.get(self.window.layout_widget.active)
        if active is not None and active.isVisible():
            return active
        return next((v for v in views.values() if v.isVisible()), None)

    def start(self, view=None) -> bool:
        """Play ``view`` (default :meth:`target_view`); False without a study or a visible slice view."""
        view = view or self.target_view()
        if self.state.volume is None or view is None:
            return False
        self.view, self.frames = view, 0
        self.timer.start()
        if not self._filtering:
            QtWidgets.QApplication.instance().installEventFilter(self)
            self._filtering = True
        self.window.status.message(f"Cine: {view.name} at {self.fps:g} fps (K or Esc stops)")
        self.playing_changed.emit(True)
        return True

    def stop(self) -> None:
        if self._filtering:
            app = QtWidgets.QApplication.instance()
            if app is not None:
                app.removeEventFilter(self)
            self._filtering = False
        if self.timer.isActive():
            self.timer.stop()
            self.window.status.message(f"Cine stopped ({self.frames} frames)")
            self.playing_changed.emit(False)

    def _step(self) -> None:
        volume, view = self.state.volume, self.view
        if volume is None or view is None or not view.isVisible():
            self.stop()
            return
        axis = view.axis
        cursor = list(self.state.cursor)
        cursor[axis] = (cursor[axis] + 1) % volume.shape[axis]
        self._stepping = True
        try:
            self.state.set_cursor(cursor)
        finally:
            self._stepping = False
        self.frames += 1

    def _on_cursor(self, old) -> None:
        if self.playing and not self._stepping and self.view is not None:
            if old[self.view.axis] != self.state.cursor[self.view.axis]:
                self.stop()  # someone else moved the played slice

    def eventFilter(self, obj, event):  # noqa: N802
        kind = event.type()
        if kind == QtCore.QEvent.Type.Wheel and obj in self.window.slice_views.values():
            if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Ctrl+wheel zooms
                self.stop()
        elif kind == QtCore.QEvent.Type.KeyPress and event.key() in SLICE_KEYS and not (
                event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self.stop()
        return False
