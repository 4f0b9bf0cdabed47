"""Slab-by-slab reading of large uncompressed images straight into the final array.

``sitk.ReadImage`` followed by a numpy copy holds the volume twice at its peak. For an
uncompressed file (``.nii``) ITK reads any slab cheaply, so we read 32 slices at a time into a
preallocated int16 array, applying the flips that make it canonical LPS on the way: peak memory
is the volume plus one slab. Applies only to int16 voxels and axis orders that need flips, not
permutations; other files use the ordinary whole-image path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ctrg_desktop.io.progress import Reporter
from ctrg_desktop.io.volume import SeriesInfo, StudyMeta, Volume

SLAB = 32
STREAMED_SUFFIXES = (".nii",)  # uncompressed: ITK reads a slab without decoding the whole file


def _flips(direction: np.ndarray) -> list[bool] | None:
    """Per ITK axis (i, j, k): needs flipping to point L, P, S; None if axes are permuted."""
    dominant = np.argmax(np.abs(direction), axis=0)
    if list(dominant) != [0, 1, 2]:
        return None
    return [bool(direction[a, a] < 0) for a in range(3)]


def can_stream(path: Path, reader: sitk.ImageFileReader) -> bool:
    """True for an uncompressed int16 3D image whose axes only need flips."""
    direction = np.asarray(reader.GetDirection(), dtype=np.float64).reshape(3, 3)
    return (path.name.lower().endswith(STREAMED_SUFFIXES) and reader.GetDimension() == 3
            and reader.GetNumberOfComponents() == 1 and reader.GetPixelID() == sitk.sitkInt16
            and _flips(direction) is not None)


def read_streamed(reader: sitk.ImageFileReader, series: SeriesInfo, reporter: Reporter) -> Volume:
    """Read the image behind ``reader`` (information already read) as a canonical Volume."""
    size = reader.GetSize()  # ITK order (i, j, k)
    spacing = np.asarray(reader.GetSpacing(), dtype=np.float64)
    origin = np.asarray(reader.GetOrigin(), dtype=np.float64)
    direction = np.asarray(reader.GetDirection(), dtype=np.float64).reshape(3, 3)
    flip_i, flip_j, flip_k = _flips(direction)
    out = np.empty(size[::-1], dtype=np.int16)
    for k0 in range(0, size[2], SLAB):
        n = min(SLAB, size[2] - k0)
        reader.SetExtractIndex([0, 0, k0])
        reader.SetExtractSize([size[0], size[1], n])
        slab_image = reader.Execute()
        slab = sitk.GetArrayViewFromImage(slab_image)[:, ::-1 if flip_j else 1, ::-1 if flip_i else 1]
        if flip_k:
            out[size[2] - k0 - n:size[2] - k0] = slab[::-1]
        else:
            out[k0:k0 + n] = slab
        del slab, slab_image  # the view must not outlive its image
        reporter(k0 + n, size[2], "reading slices")
    for axis, flipped in enumerate((flip_i, flip_j, flip_k)):
        if flipped:
            origin = origin + direction[:, axis] * spacing[axis] * (size[axis] - 1)
            direction[:, axis] = -direction[:, axis]
    return Volume(array=out, spacing=tuple(spacing[::-1]), origin=tuple(origin),
                  direction=direction[:, ::-1], series=series, meta=StudyMeta())
