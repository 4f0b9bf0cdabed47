"""CT volume-rendering presets: HU -> colour and opacity points (after 3D Slicer's CT presets).

``"masks only"`` renders no volume at all (blend ``"none"``): the 3D view shows the masks'
surfaces (and the other overlays) alone, which is also the fastest 3D view on a software OpenGL.
"""

from __future__ import annotations

from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
from vtkmodules.vtkRenderingCore import vtkColorTransferFunction, vtkVolumeProperty

#: name -> (colour points (HU, r, g, b), opacity points (HU, alpha), blend "composite"|"mip")
VOLUME_PRESETS = {
    "soft tissue": ([(-1000, 0, 0, 0), (-100, 0.62, 0.36, 0.18), (60, 0.88, 0.6, 0.5),
                     (300, 1, 0.94, 0.85), (1500, 1, 1, 1)],
                    [(-1000, 0), (-150, 0), (0, 0.02), (80, 0.12), (300, 0.45), (1500, 0.8)], "composite"),
    "bone": ([(-1000, 0, 0, 0), (150, 0.55, 0.25, 0.15), (300, 0.9, 0.82, 0.66), (1500, 1, 1, 0.95)],
             [(-1000, 0), (150, 0), (300, 0.3), (1500, 0.85)], "composite"),
    "lung": ([(-1000, 0, 0, 0), (-900, 0.3, 0.5, 0.8), (-600, 0.75, 0.82, 0.9), (0, 0.85, 0.55, 0.45),
              (1500, 1, 1, 1)],
             [(-1000, 0), (-930, 0), (-800, 0.04), (-500, 0.06), (-300, 0), (150, 0), (400, 0.3),
              (1500, 0.7)], "composite"),
    "mip": ([(-200, 0, 0, 0), (600, 1, 1, 1)], [(-1000, 0), (-200, 0), (600, 1)], "mip"),
    "masks only": ([(-1000, 0, 0, 0)], [(-1000, 0)], "none"),
}


def volume_property(name: str) -> tuple[vtkVolumeProperty, str]:
    """A vtkVolumeProperty for preset ``name`` and its blend mode (``"none"``: hide the volume)."""
    if name not in VOLUME_PRESETS:
        raise ValueError(f"unknown 3D preset {name!r}; choose one of {', '.join(VOLUME_PRESETS)}")
    colours, opacities, blend = VOLUME_PRESETS[name]
    ctf = vtkColorTransferFunction()
    for hu, r, g, b in colours:
        ctf.AddRGBPoint(hu, r, g, b)
    otf = vtkPiecewiseFunction()
    for hu, a in opacities:
        otf.AddPoint(hu, a)
    prop = vtkVolumeProperty()
    prop.SetColor(ctf)
    prop.SetScalarOpacity(otf)
    prop.SetInterpolationTypeToLinear()
    if blend == "composite":
        prop.ShadeOn()
        prop.SetAmbient(0.3)
        prop.SetDiffuse(0.7)
        prop.SetSpecular(0.2)
    return prop, blend
