"""The 3D view: volume rendering with CT presets (GPU ray casting when available, CPU otherwise),
or the masks' surfaces alone (the "masks only" preset: no volume is rendered)."""

from __future__ import annotations

from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkInteractionWidgets import vtkOrientationMarkerWidget
from vtkmodules.vtkRenderingAnnotation import vtkAnnotatedCubeActor
from vtkmodules.vtkRenderingCore import vtkVolume
from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401

from ctrg_desktop.app.views.base import VtkView
from ctrg_desktop.app.views.slice_actors import CornerText
from ctrg_desktop.app.views.volume_presets import volume_property


def orientation_cube() -> vtkAnnotatedCubeActor:
    """A cube labelled with LPS patient directions (+x = L, +y = P, +z = S)."""
    cube = vtkAnnotatedCubeActor()
    for setter, text in (("SetXPlusFaceText", "L"), ("SetXMinusFaceText", "R"), ("SetYPlusFaceText", "P"),
                         ("SetYMinusFaceText", "A"), ("SetZPlusFaceText", "S"), ("SetZMinusFaceText", "I")):
        getattr(cube, setter)(text)
    cube.SetFaceTextScale(0.6)
    cube.GetCubeProperty().SetColor(0.35, 0.4, 0.5)
    return cube


class VolumeView(VtkView):
    """Rotate with the left button, pan with the middle, zoom with the right button or wheel."""

    def __init__(self, parent=None):
        super().__init__("3d", parent)
        self.renderer.SetBackground(0.08, 0.08, 0.1)
        self.GetRenderWindow().GetInteractor().SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.mapper = vtkSmartVolumeMapper()
        self.mapper.SetRequestedRenderModeToDefault()
        self.volume_prop = vtkVolume()
        self.volume_prop.SetMapper(self.mapper)
        self.handle = None
        self._software: bool | None = None
        self.preset = "soft tissue"
        self.info = CornerText(self.renderer, "top-left")
        self.marker = vtkOrientationMarkerWidget()
        self.marker.SetOrientationMarker(orientation_cube())
        self.marker.SetInteractor(self.GetRenderWindow().GetInteractor())
        self.marker.SetViewport(0.0, 0.0, 0.2, 0.2)
        self.marker.SetEnabled(1)
        self.marker.InteractiveOff()
        self.overlays = None

    def software_gl(self) -> bool:
        """True when OpenGL is a CPU rasteriser (llvmpipe, softpipe, SwiftShader...)."""
        if self._software is None:
            report = self.GetRenderWindow().ReportCapabilities() or ""
            if "renderer string" not in report:
                return False  # no context yet: ask again later
            renderer = report.split("renderer string:", 1)[1].splitlines()[0].lower()
            self._software = any(name in renderer for name in ("llvmpipe", "softpipe", "swrast", "swiftshader"))
        return self._software

    def set_image(self, handle, matrix) -> None:
        """Show ``handle`` (possibly a downsampled copy of the volume) placed by ``matrix``.

        With a software OpenGL the CPU ray caster is used: it is several times faster there
        than running the GPU ray-casting shaders on the CPU.
        """
        self.handle = handle
        if self.software_gl():
            self.mapper.SetRequestedRenderModeToRayCast()
        else:
            self.mapper.SetRequestedRenderModeToDefault()
        self.mapper.SetInputData(handle.image)
        self.volume_prop.SetUserMatrix(matrix)
        if not self.renderer.HasViewProp(self.volume_prop):
            self.renderer.AddVolume(self.volume_prop)
        self.set_preset(self.preset)
        self.reset_view()

    def set_preset(self, name: str) -> None:
        prop, blend = volume_property(name)
        self.preset = name
        self.volume_prop.SetProperty(prop)
        self.volume_prop.SetVisibility(blend != "none")
        if blend == "mip":
            self.mapper.SetBlendModeToMaximumIntensity()
        else:
            self.mapper.SetBlendModeToComposite()
        self.update_info()
        self.request_render()

    @property
    def volume_shown(self) -> bool:
        """Whether the volume is rendered (every preset but "masks only")."""
        return bool(self.volume_prop.GetVisibility())

    def update_info(self) -> None:
        """The corner text: the preset; with "masks only", how many surfaces there are to show."""
        text = f"3D  {self.preset}"
        if not self.volume_shown:
            count = self.overlays.surface_count() if self.overlays is not None else 0
            text += f" ({count} surface{'s' if count != 1 else ''})" if count else " (no mask to show)"
        self.info.set(text)

    def render_mode(self) -> str:
        """"GPU" or "CPU" after the first render."""
        return "GPU" if self.mapper.GetLastUsedRenderMode() == vtkSmartVolumeMapper.GPURenderMode else "CPU"

    def reset_view(self) -> None:
        """Anterior view, superior up."""
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(0, 0, 0)
        camera.SetPosition(0, -1, 0)
        camera.SetViewUp(0, 0, 1)
        self.renderer.ResetCamera()
        camera.Zoom(1.3)
        self.request_render()

    def keyPressEvent(self, event):  # noqa: N802
        if event.text().lower() == "r":
            self.reset_view()
        else:
            event.ignore()

    def keyReleaseEvent(self, event):  # noqa: N802
        event.ignore()
