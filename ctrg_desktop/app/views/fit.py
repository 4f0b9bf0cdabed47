"""Fit the whole slice into each slice view when the layout changes or a view is resized.

The slice views' zoom is set when a study opens, for the views' sizes then; a layout change
(2x2 -> 1x3: tall narrow views, or a maximised view) left that zoom in place and cropped the
body. :class:`ViewFitter` fits every visible slice view after each layout change (double-click
maximise and back included), and after a resize (the window, a dock opening) refits a view
that was fitted at its old size; a view the user zoomed or panned keeps its zoom and pan on a
resize. A fit is :meth:`SliceView.reset_view`: the volume's in-plane extent centred with a 4 %
margin; the cursor (crosshair and every view's slice) never moves.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from ctrg_desktop.app.views.geometry import camera_frame

MARGIN = 1.04  #: the fitted parallel scale over the half-extent (the same as SliceView.reset_view)


def fit_frame(volume, view: str, width: int, height: int, margin: float = MARGIN) -> tuple[np.ndarray, float]:
    """(in-plane centre in LPS mm, parallel scale) that show slice view ``view`` of ``volume``
    whole in a ``width`` x ``height`` viewport with ``margin``."""
    dop, up = camera_frame(volume, view)
    corners = np.array([[a, b, c] for a in (-0.5, volume.shape[0] - 0.5)
                        for b in (-0.5, volume.shape[1] - 0.5) for c in (-0.5, volume.shape[2] - 0.5)])
    world = volume.voxel_to_world(corners)
    right = np.cross(dop, up)
    half_up = np.ptp(world @ up) / 2.0
    half_right = np.ptp(world @ right) / 2.0
    aspect = max(int(width), 1) / max(int(height), 1)
    return world.mean(axis=0), float(margin * max(half_up, half_right / aspect))


def slice_corners_world(view) -> np.ndarray:
    """The four outer corners (LPS mm, (4, 3)) of the view's current slice."""
    volume, axis = view.state.volume, view.axis
    a, b = (x for x in range(3) if x != axis)
    corners = []
    for ua in (-0.5, volume.shape[a] - 0.5):
        for ub in (-0.5, volume.shape[b] - 0.5):
            p = np.array(view.state.cursor, float)
            p[a], p[b] = ua, ub
            corners.append(p)
    return volume.voxel_to_world(np.array(corners))


class ViewFitter(QtCore.QObject):
    """Keeps ``window``'s slice views fitted (see the module's docstring)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.fits = 0  #: views fitted so far (tests, diagnostics)
        for view in window.slice_views.values():
            view.installEventFilter(self)
        window.layout_widget.layout_changed.connect(self.fit_all)

    def fit_all(self, *_) -> None:
        """Fit every visible slice view now (the layout is applied first, so sizes are final)."""
        self.window.layout_widget.grid.activate()
        for view in self.window.slice_views.values():
            if view.isVisible():
                self.fit(view)

    def fit(self, view) -> None:
        if view.state.volume is None or view.array is None:
            return
        view.reset_view()
        view.request_render()
        self.fits += 1

    @staticmethod
    def is_fitted(view, width: int, height: int) -> bool:
        """Whether the view's camera is the fit of a ``width`` x ``height`` viewport (not zoomed or panned)."""
        volume = view.state.volume
        centre, scale = fit_frame(volume, view.name, width, height)
        camera = view.renderer.GetActiveCamera()
        dop, up = camera_frame(volume, view.name)
        offset = np.asarray(camera.GetFocalPoint()) - centre
        offset -= (offset @ dop) * dop  # along the view's normal: the slice, not a pan
        return bool(abs(camera.GetParallelScale() - scale) <= 1e-6 * scale and np.linalg.norm(offset) < 1e-3)

    def eventFilter(self, obj, event):  # noqa: N802
        if (event.type() == QtCore.QEvent.Type.Resize and getattr(obj, "array", None) is not None
                and obj.state.volume is not None):
            old = event.oldSize()
            if old.width() > 0 and old.height() > 0 and self.is_fitted(obj, old.width(), old.height()):
                self.fit(obj)
        return False
