"""How much of each model patch lies in each anatomical structure, or in the body.

Label maps hold fine labels; a legend (fine label -> structure name, e.g. the phantoms'
``STRUCTURE_OF_LABEL`` or ``dataset.json``'s ``label_legend``) maps them to structures. The map
is brought onto the model grid with nearest-neighbour resampling
(:func:`ctrg_desktop.imaging.resample_labels`) against ``PreparedVolume.grid``; each patch then
gets the share of its voxels in each structure (:func:`patch_fractions`). Training's mask loss
pulls attention towards these shares; evaluation scores grounding and the in-body share with
them (:mod:`ctrg_desktop.evaluation.grounding`). The body is label > 0 in a label map
(:func:`label_body_mask`), else HU > -500 in the model input with holes filled
(:func:`input_body_mask`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ctrg_desktop.imaging.patches import PatchGrid

BODY_HU = -500.0  #: model-input voxels above this are body when there is no label map

def legend_to_structure_map(legend: Mapping, structure_names: Sequence[str]) -> dict[int, int]:
    """``{fine label: structure name}`` or ``dataset.json``'s ``{"3": {"structure": "lung"}}``
    -> ``{fine label: structure index}``; names not in ``structure_names`` raise ``ValueError``."""
    index = {name: i for i, name in enumerate(structure_names)}
    out = {}
    for value, entry in legend.items():
        name = entry.get("structure") if isinstance(entry, Mapping) else entry
        if name not in index:
            raise ValueError(f"label {value} maps to unknown structure {name!r}")
        out[int(value)] = index[name]
    return out


def structure_index_map(label_map: np.ndarray, legend: Mapping, structure_names: Sequence[str]) -> np.ndarray:
    """Fine label map -> structure index per voxel (int16; -1 for background/unlisted labels)."""
    mapping = legend_to_structure_map(legend, structure_names)
    labels = np.asarray(label_map)
    if labels.size and (labels.min() < 0):
        raise ValueError("label maps hold non-negative labels")
    lut = np.full(max(int(labels.max(initial=0)), max(mapping, default=0)) + 1, -1, dtype=np.int16)
    for value, s in mapping.items():
        lut[value] = s
    return lut[labels.astype(np.int64)]


def patch_fractions(structure_map: np.ndarray, patch_grid: PatchGrid, num_structures: int) -> np.ndarray:
    """Share of each patch's voxels in each structure: (P, N) float, rows in PatchGrid order."""
    smap = np.asarray(structure_map)
    if smap.shape != tuple(patch_grid.shape):
        raise ValueError(f"structure map shape {smap.shape} differs from the model grid {patch_grid.shape}")
    (nk, nj, ni), (pd, ph, pw) = patch_grid.counts, patch_grid.patch
    blocks = smap.reshape(nk, pd, nj, ph, ni, pw).transpose(0, 2, 4, 1, 3, 5).reshape(nk * nj * ni, -1)
    out = np.zeros((blocks.shape[0], num_structures), dtype=np.float64)
    for s in range(num_structures):
        out[:, s] = (blocks == s).mean(axis=1)
    return out


def labels_on_grid(label_volume, prepared) -> np.ndarray:
    """Label map (a Volume on the study's grid) -> labels on ``prepared.grid`` (nearest neighbour)."""
    from ctrg_desktop.imaging.resample import resample_labels

    labels = np.asarray(label_volume.array)
    if labels.shape != prepared.study.shape:
        raise ValueError(f"label map shape {labels.shape} differs from the study's {prepared.study.shape}")
    return resample_labels(labels, label_volume, prepared.grid)


def study_patch_fractions(label_volume, prepared, patch_grid: PatchGrid, legend: Mapping,
                          structure_names: Sequence[str], on_grid: np.ndarray | None = None) -> np.ndarray:
    """Label map (a Volume on the study's grid) -> (P, N) patch fractions on ``prepared.grid``
    (``on_grid``: the map already brought there by :func:`labels_on_grid`)."""
    on_grid = labels_on_grid(label_volume, prepared) if on_grid is None else on_grid
    return patch_fractions(structure_index_map(on_grid, legend, structure_names), patch_grid, len(structure_names))


def label_body_mask(on_grid: np.ndarray) -> np.ndarray:
    """Body voxels of a label map on the model grid: every label but background (0)."""
    return np.asarray(on_grid) > 0


def input_body_mask(model_input: np.ndarray, window, hu: float = BODY_HU) -> np.ndarray:
    """Body voxels of a model input (HU scaled by ``window``, an ``HUWindow``): above ``hu``, with
    the holes of each axial slice filled (the lungs and airways lie inside the body)."""
    from scipy.ndimage import binary_fill_holes

    dense = np.asarray(model_input) > window.normalise(np.array([hu], dtype=np.float32))[0]
    return np.stack([binary_fill_holes(plane) for plane in dense]) if dense.ndim == 3 else binary_fill_holes(dense)


def body_fractions(body: np.ndarray, patch_grid: PatchGrid) -> np.ndarray:
    """Share of each patch's voxels inside the body: (P,) in PatchGrid order."""
    return patch_fractions(np.where(np.asarray(body, dtype=bool), 0, -1), patch_grid, 1)[:, 0]
