"""Slice scrolling fps at 800x800 with two overlays / bare VTK reslicing the same volume (512x512x300)."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.bench_first_slice import big_study_files, make_window, run_with_display
from benchmarks.run import Result

SIZE = 800
FRAMES = 60


def _bare_vtk(volume):
    """A plain vtkRenderWindow with vtkImageResliceMapper: the peer. Returns a render-one-slice function."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkRenderingCore import vtkImageSlice, vtkRenderer, vtkRenderWindow
    from vtkmodules.vtkRenderingImage import vtkImageResliceMapper

    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401

    d, h, w = volume.shape
    image = vtkImageData()
    image.SetDimensions(w, h, d)
    image.SetSpacing(*volume.spacing[::-1])
    image.GetPointData().SetScalars(numpy_to_vtk(volume.array.reshape(-1), deep=0))
    mapper = vtkImageResliceMapper()
    mapper.SetInputData(image)
    mapper.SliceFacesCameraOn()
    mapper.SliceAtFocalPointOn()
    actor = vtkImageSlice()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColorWindow(1500)
    actor.GetProperty().SetColorLevel(-600)
    actor.GetProperty().SetInterpolationTypeToLinear()
    renderer = vtkRenderer()
    renderer.AddViewProp(actor)
    window = vtkRenderWindow()
    window.SetSize(SIZE, SIZE)
    window.AddRenderer(renderer)
    camera = renderer.GetActiveCamera()
    camera.ParallelProjectionOn()
    renderer.ResetCamera()
    focal = np.array(camera.GetFocalPoint())
    position = np.array(camera.GetPosition())

    def show(k: int) -> None:
        z = k * volume.spacing[0] - focal[2]
        camera.SetFocalPoint(focal[0], focal[1], focal[2] + z)
        camera.SetPosition(position[0], position[1], position[2] + z)
        renderer.ResetCameraClippingRange()
        window.Render()

    return show, window


def _app_view(window, volume):
    from ctrg_desktop.overlays import HeatmapLayer, LabelMapLayer

    window.set_layout("single")
    view = window.slice_views["axial"]
    view.setFixedSize(SIZE, SIZE)
    window.set_preset("lung")
    window.layers.add(LabelMapLayer((volume.array < -400).astype(np.uint8), colours={1: (1, 0, 0)},
                                    name="labels", opacity=0.4))
    heat = ((volume.array.astype(np.float32) + 1000.0) / 2000.0).clip(0, 1)
    window.layers.add(HeatmapLayer(heat, colormap="hot", threshold=0.5, range=(0, 1), name="heat", opacity=0.5))

    def show(k: int) -> None:
        window.state.set_cursor((k, *window.state.cursor[1:]))
        view.render_now()

    return show, view


def _fps(show, frames: int, depth: int) -> float:
    start = time.perf_counter()
    for n in range(frames):
        show(depth // 4 + n % (depth // 2))
    return frames / (time.perf_counter() - start)


def _measure(args) -> Result:
    from ctrg_desktop.io.readers import read_study

    folder, nifti = big_study_files()
    app, window = make_window()
    if not window.open_study(nifti):
        raise RuntimeError(window.last_error)
    volume = window.volume
    ours_show, view = _app_view(window, volume)
    app.processEvents()
    peer_show, peer_window = _bare_vtk(volume)
    for show in (ours_show, peer_show):
        _fps(show, 5, volume.shape[0])  # warm up
    ours = peer = 0.0
    for _ in range(args.repeat):  # alternate: side by side
        peer = max(peer, _fps(peer_show, FRAMES, volume.shape[0]))
        ours = max(ours, _fps(ours_show, FRAMES, volume.shape[0]))
    print(f"app with 2 overlays: {ours:.1f} fps   bare VTK: {peer:.1f} fps   "
          f"(view {view.width()}x{view.height()}, bare {peer_window.GetSize()})")
    peer_window.Finalize()
    window.close()
    return Result(ours / peer, "x bare VTK fps", ">= 0.8")


def run(args) -> Result:
    return run_with_display("scroll", args, _measure)
