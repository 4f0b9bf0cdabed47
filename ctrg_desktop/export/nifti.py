"""Masks as NIfTI (``.nii.gz``) on the study's grid: one label map, or one file per mask.

The files carry the study's geometry (spacing, origin, direction through
:func:`ctrg_desktop.io.sitk_bridge.volume_to_image`, LPS as ITK keeps it), so they overlay the
study in any viewer that reads its DICOM or NIfTI. Beside them, ``<name>.labels.json`` names
each label (or file) with its colour and structure.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ctrg_desktop.export.content import study_grid
from ctrg_desktop.export.errors import ExportError, export_path, write_export
from ctrg_desktop.export.masks import checked_masks, label_map
from ctrg_desktop.export.result import ExportResult
from ctrg_desktop.io.sitk_bridge import volume_to_image

SUFFIX = ".nii.gz"
LABELS_SUFFIX = ".labels.json"


def write_nifti_labelmap(masks, study, path: str | os.PathLike) -> ExportResult:
    """One ``.nii.gz`` label map: mask ``n`` (in order) is label ``n``, 0 is background; where
    masks overlap the later one wins (a warning counts the voxels). ``study``: the
    :class:`ReportContent`, its study dict or the Volume."""
    path = _nifti_path(path)
    grid = study_grid(study)
    masks = checked_masks(masks, grid.shape)
    labels, overlap = label_map(masks)
    warnings = [f"{overlap} voxel(s) lie in more than one mask; the label map keeps the later mask's label"] \
        if overlap else []
    _write_image(volume_to_image(grid, labels), path)
    legend = {"format": "ctrg-mask-labels", "image": path.name,
              "labels": [{"value": n, **_describe(m)} for n, m in enumerate(masks, start=1)]}
    sidecar = write_export(labels_path(path), json.dumps(legend, indent=2, ensure_ascii=False) + "\n")
    return ExportResult(path, warnings, [path, sidecar])


def write_nifti_masks(masks, study, folder: str | os.PathLike) -> ExportResult:
    """One binary ``.nii.gz`` (uint8 0/1) per mask in ``folder``, named after the mask, and
    ``masks.labels.json`` listing them; the result's ``path`` is the folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file; give a folder for one file per mask")
    grid = study_grid(study)
    masks = checked_masks(masks, grid.shape)
    names = unique_file_names([m.name for m in masks])
    files, entries = [], []
    for mask, name in zip(masks, names):
        target = folder / f"{name}{SUFFIX}"
        _write_image(volume_to_image(grid, mask.array.astype(np.uint8)), target)
        files.append(target)
        entries.append({"file": target.name, **_describe(mask)})
    legend = {"format": "ctrg-mask-labels", "files": entries}
    text = json.dumps(legend, indent=2, ensure_ascii=False) + "\n"
    files.append(write_export(folder / f"masks{LABELS_SUFFIX}", text))
    return ExportResult(folder, [], files)


def labels_path(path: str | os.PathLike) -> Path:
    """``masks.nii.gz`` -> ``masks.labels.json`` (same folder)."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(SUFFIX).removesuffix(".nii") + LABELS_SUFFIX)


def unique_file_names(names: list[str]) -> list[str]:
    """Safe, distinct file stems for mask names (``Left lung/1`` -> ``Left_lung_1``)."""
    out: list[str] = []
    for name in names:
        stem = re.sub(r"[^\w.-]+", "_", name, flags=re.ASCII).strip("._") or "mask"
        candidate, n = stem, 2
        while candidate.lower() in (o.lower() for o in out):
            candidate, n = f"{stem}_{n}", n + 1
        out.append(candidate)
    return out


def _nifti_path(path) -> Path:
    path = Path(path)
    if not path.name.endswith((".nii.gz", ".nii")):
        raise ExportError(f"{path.name}: a NIfTI label map is written as .nii.gz (or .nii)")
    return path


def _describe(mask) -> dict:
    return {"name": mask.name, "colour": mask.colour, "structure": mask.structure,
            "algorithm": mask.algorithm, "voxels": int(np.count_nonzero(mask.array))}


def _write_image(image: sitk.Image, path: Path) -> None:
    with export_path(path) as tmp:
        try:
            sitk.WriteImage(image, str(tmp), useCompression=True)
        except RuntimeError as exc:
            raise ExportError(f"cannot write {path}: {str(exc).strip().splitlines()[-1]}") from exc
