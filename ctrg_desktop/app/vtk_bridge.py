"""Numpy <-> VTK without copies: volume arrays as vtkImageData, geometry as a prop user matrix.

VTK image axes are (x, y, z) = array axes (i, j, k); the image itself has origin 0 and the
volume's spacing, and every prop showing it gets :func:`user_matrix` (direction + origin) so
world coordinates are the volume's LPS millimetres.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkWindowToImageFilter

from ctrg_desktop.io.volume import Volume


class ImageHandle:
    """A vtkImageData sharing memory with ``array`` (kept alive here)."""

    def __init__(self, array: np.ndarray, spacing_kji):
        self.array = np.ascontiguousarray(array)
        d, h, w = self.array.shape
        self.image = vtkImageData()
        self.image.SetDimensions(w, h, d)
        self.image.SetSpacing(*(float(s) for s in spacing_kji[::-1]))
        self.image.SetOrigin(0.0, 0.0, 0.0)
        self._scalars = numpy_to_vtk(self.array.reshape(-1), deep=0)
        self.image.GetPointData().SetScalars(self._scalars)

    def modified(self) -> None:
        """Tell VTK the shared array changed in place."""
        self._scalars.Modified()
        self.image.Modified()


def user_matrix(volume: Volume) -> vtkMatrix4x4:
    """4x4 mapping VTK image coordinates (x=i, y=j, z=k, in mm) to LPS world mm."""
    m = np.eye(4)
    m[:3, :3] = volume.direction[:, ::-1]
    m[:3, 3] = volume.origin
    matrix = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(m[r, c]))
    return matrix


def lookup_table(rgba: np.ndarray, value_range: tuple[float, float]) -> vtkLookupTable:
    """A vtkLookupTable from ``(n, 4)`` RGBA in 0..1 spread over ``value_range``."""
    lut = vtkLookupTable()
    lut.SetNumberOfTableValues(len(rgba))
    lut.SetTableRange(*value_range)
    for n, (r, g, b, a) in enumerate(rgba):
        lut.SetTableValue(n, float(r), float(g), float(b), float(a))
    lut.Build()
    return lut


def grab_render_window(render_window: vtkRenderWindow) -> np.ndarray:
    """The rendered pixels as ``(height, width, 3)`` uint8, top row first."""
    render_window.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(render_window)
    grab.SetInputBufferTypeToRGB()
    grab.ReadFrontBufferOff()
    grab.Update()
    out = grab.GetOutput()
    w, h, _ = out.GetDimensions()
    pixels = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)
    return np.ascontiguousarray(pixels[::-1, :, :3])
