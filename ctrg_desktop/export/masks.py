"""Masks to export: one boolean array per mask on the study grid, with a name and a colour."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ctrg_desktop.export.errors import ExportError

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass
class MaskSpec:
    """One mask: ``array`` is boolean ``[k, j, i]`` on the study grid (the Volume's array order).

    ``structure`` names the report structure it belongs to (or None); ``algorithm`` names the
    tool that drew it (e.g. ``"LiteMedSAM"``: a semi-automatic segment), None for a manual one.
    """

    name: str
    array: np.ndarray
    colour: str = "#ff0000"
    structure: str | None = None
    algorithm: str | None = None

    @property
    def rgb(self) -> tuple[int, int, int]:
        return tuple(int(self.colour[i:i + 2], 16) for i in (1, 3, 5))


def checked_masks(masks, shape: tuple[int, int, int]) -> list[MaskSpec]:
    """The masks with boolean arrays, after checking names, colours and shapes (ExportError)."""
    masks = list(masks)
    if not masks:
        raise ExportError("there are no masks to export")
    names = set()
    out = []
    for m in masks:
        if not str(m.name).strip():
            raise ExportError("a mask has no name")
        if m.name in names:
            raise ExportError(f"two masks are named {m.name!r}; mask names must differ")
        names.add(m.name)
        if not isinstance(m.colour, str) or not _HEX.match(m.colour):
            raise ExportError(f"mask {m.name!r} has colour {m.colour!r}; expected #rrggbb")
        array = np.asarray(m.array)
        if array.shape != tuple(shape):
            raise ExportError(f"mask {m.name!r} has shape {list(array.shape)}, the study {list(shape)}")
        if array.dtype != bool:
            if not (np.issubdtype(array.dtype, np.number) and np.isin(array, (0, 1)).all()):
                raise ExportError(f"mask {m.name!r} is not binary (values other than 0 and 1)")
            array = array.astype(bool)
        out.append(MaskSpec(m.name, array, m.colour, m.structure, m.algorithm))
    return out


def label_map(masks: list[MaskSpec]) -> tuple[np.ndarray, int]:
    """Labels 1..n in mask order (uint8, or uint16 past 255 masks) and how many voxels overlapped
    (where masks overlap the later mask's label wins)."""
    dtype = np.uint8 if len(masks) < 256 else np.uint16
    labels = np.zeros(masks[0].array.shape, dtype=dtype)
    covered = np.zeros(masks[0].array.shape, dtype=bool)
    overlap = 0
    for n, m in enumerate(masks, start=1):
        overlap += int(np.count_nonzero(covered & m.array))
        labels[m.array] = n
        covered |= m.array
    return labels, overlap
