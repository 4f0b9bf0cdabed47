"""A QVTKRenderWindowInteractor with one renderer, coalesced rendering and pixel grabbing."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkRenderingCore import vtkRenderer

import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL factories)
import vtkmodules.vtkInteractionStyle  # noqa: F401
import vtkmodules.vtkRenderingFreeType  # noqa: F401

from ctrg_desktop.app.vtk_bridge import grab_render_window


class VtkView(QVTKRenderWindowInteractor):
    """Base of every view: ``request_render`` batches changes into one render per event-loop pass."""

    activated = QtCore.Signal(str)
    #: Anti-aliasing samples of the render window (None: VTK's default, 8). 2D slice views use 0:
    #: their content is a textured image, and on a software GL (llvmpipe) 8x multisampling costs
    #: about half of each 800x800 frame.
    multisamples: int | None = None

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.name = name
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        if self.multisamples is not None:
            self.GetRenderWindow().SetMultiSamples(self.multisamples)
        self.GetRenderWindow().AddRenderer(self.renderer)
        self._render_pending = False
        self.frames_rendered = 0
        self.setMinimumSize(120, 120)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.Initialize()

    def request_render(self) -> None:
        if not self._render_pending:
            self._render_pending = True
            QtCore.QTimer.singleShot(0, self._render_if_pending)

    def _render_if_pending(self) -> None:
        if self._render_pending:
            self.render_now()

    def cancel_render(self) -> None:
        """Drop a requested render (what it would show is about to be replaced)."""
        self._render_pending = False

    def render_now(self) -> None:
        """Render immediately (skipped while hidden: a hidden view renders when shown)."""
        self._render_pending = False
        if self.isVisible() and self.width() > 1:
            self.GetRenderWindow().Render()
            self.frames_rendered += 1

    def grab_array(self) -> np.ndarray:
        """The view's pixels as ``(height, width, 3)`` uint8, top row first."""
        return grab_render_window(self.GetRenderWindow())

    def pixel_ratio(self) -> float:
        return float(self.devicePixelRatioF())

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        self.request_render()

    def focusInEvent(self, event):  # noqa: N802
        super().focusInEvent(event)
        self.activated.emit(self.name)

    def close_view(self) -> None:
        """Release the OpenGL context before the widget goes away."""
        self.GetRenderWindow().Finalize()
