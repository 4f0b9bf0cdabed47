"""View geometry without VTK: which array axis each view slices, camera directions, edge labels."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.io.volume import Volume

#: view name -> the array axis its slices are perpendicular to (0 = k, 1 = j, 2 = i)
SLICE_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}
VIEW_TITLES = {"axial": "Axial", "coronal": "Coronal", "sagittal": "Sagittal", "3d": "3D"}


def camera_frame(volume: Volume, view: str) -> tuple[np.ndarray, np.ndarray]:
    """(direction of projection, view-up) in LPS world for a slice view.

    Axial looks from the feet with anterior up (patient right on the screen's left);
    coronal looks from the front with superior up; sagittal looks from the patient's left
    with superior up (anterior on the screen's left).
    """
    d = volume.direction  # columns: world directions of k, j, i
    if view == "axial":
        return d[:, 0].copy(), -d[:, 1]
    if view == "coronal":
        return d[:, 1].copy(), d[:, 0].copy()
    if view == "sagittal":
        return -d[:, 2], d[:, 0].copy()
    raise ValueError(f"unknown slice view {view!r}")


def direction_letter(vector) -> str:
    """The LPS letter a world direction mostly points to: +x L, -x R, +y P, -y A, +z S, -z I."""
    v = np.asarray(vector, dtype=np.float64)
    axis = int(np.argmax(np.abs(v)))
    return ("LR", "PA", "SI")[axis][0 if v[axis] > 0 else 1]


def edge_labels(dop, up) -> dict[str, str]:
    """Orientation letters for the four screen edges of a camera (``right = dop x up``)."""
    right = np.cross(np.asarray(dop, float), np.asarray(up, float))
    return {"right": direction_letter(right), "left": direction_letter(-right),
            "top": direction_letter(up), "bottom": direction_letter(-np.asarray(up, float))}


def nice_length(max_mm: float) -> float:
    """The largest 1-2-5 x 10^n millimetre length not above ``max_mm`` (for a scale bar)."""
    if max_mm <= 0:
        return 0.0
    exponent = np.floor(np.log10(max_mm))
    for step in (5.0, 2.0, 1.0):
        if step * 10**exponent <= max_mm:
            return float(step * 10**exponent)
    return float(10 ** (exponent - 1) * 5)
