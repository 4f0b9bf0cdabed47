"""Read a label-map file (NIfTI, NRRD, MHA) on a study's grid as a :class:`LabelMapLayer`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ctrg_desktop.io.sitk_bridge import to_canonical
from ctrg_desktop.io.volume import Volume
from ctrg_desktop.overlays import LabelMapLayer


def read_label_map(path, volume: Volume, name: str | None = None) -> LabelMapLayer:
    """The file's labels (integers 0..65535) reoriented like ``volume``; the grids must match."""
    image = to_canonical(sitk.ReadImage(str(path)))
    array = sitk.GetArrayFromImage(image)
    if array.shape != volume.shape:
        raise ValueError(f"label map grid {array.shape} differs from the study's {volume.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        rounded = np.rint(array)
        if not np.allclose(array, rounded):
            raise ValueError("a label map holds whole numbers")
        array = rounded
    if array.min() < 0 or array.max() > 65535:
        raise ValueError("labels must lie in 0..65535")
    array = array.astype(np.uint8 if array.max() < 256 else np.uint16)
    return LabelMapLayer(array, name=name or Path(path).name.split(".")[0], opacity=0.45)
