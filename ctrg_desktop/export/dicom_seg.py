"""Masks as a DICOM Segmentation (SEG) of the study's source series, written with highdicom.

One BINARY segment per mask, in mask order (segment numbers 1..n), labelled with the mask's
name and shown in its colour. The frames are those of the source images: each source frame
(single-frame file or frame of a multi-frame file) gets the mask voxels at its pixels, found
by mapping every pixel centre through the source frame's geometry onto the study grid
(``[k, j, i]``, canonical LPS: the study's slice order and in-plane flips are undone here).
When the study grid is the source's own (the usual case) the mapping is exact; when the reader
resampled the series (missing slices, uneven spacing, gantry tilt) the masks are sampled at the
nearest voxel and a warning says so. Frames without any mask pixel are left out (and, for a
series of single-frame files, so are the images under them from the references). Masks that
do not overlap travel as one label map through highdicom, so memory stays near one byte per
voxel of the frames kept.
"""

from __future__ import annotations

import os

import numpy as np
from highdicom import AlgorithmIdentificationSequence
from highdicom.color import CIELabColor
from highdicom.seg import Segmentation, SegmentDescription
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from ctrg_desktop import __version__
from ctrg_desktop.export.coding import segment_codes
from ctrg_desktop.export.content import study_grid
from ctrg_desktop.export.dicom_source import SourceSeries, frame_mapping, load_source_series, on_voxel_centres
from ctrg_desktop.export.errors import ExportError, export_path
from ctrg_desktop.export.masks import MaskSpec, checked_masks, label_map
from ctrg_desktop.export.result import ExportResult
from ctrg_desktop.io.volume import Volume

SEG_SERIES_NUMBER = 9001


def write_dicom_seg(masks, study, path: str | os.PathLike, *, series_description: str = "ctrg-desktop masks",
                    source: SourceSeries | None = None) -> ExportResult:
    """Write ``masks`` (:class:`MaskSpec`, on the study grid) as a DICOM SEG of the study's series.

    ``study``: the :class:`ReportContent`, its study dict or the study's Volume (DICOM studies
    only: ExportError otherwise). ``source``: the already loaded source series (else read here).
    """
    grid = study_grid(study)
    masks = checked_masks(masks, grid.shape)
    empty = [m.name for m in masks if not m.array.any()]
    if len(empty) == len(masks):
        raise ExportError("every mask is empty; there is nothing to export")
    source = source or load_source_series(study)
    warnings = list(source.warnings)
    if empty:
        warnings.append(f"empty mask(s) exported as segments without frames: {', '.join(empty)}")
    pixels, frames, aligned = masks_on_frames(masks, grid, source, every_frame=source.multiframe)
    # single-frame sources: only the images under a mask are referenced (frame n <-> image n)
    images = source.datasets if source.multiframe else [source.datasets[n] for n in frames]
    if not aligned:
        warnings.append("the study grid is not the source series' own (the reader resampled it): the masks "
                        "were sampled at the nearest voxel for each source pixel")
    seg = Segmentation(
        source_images=images, pixel_array=pixels, segmentation_type="BINARY",
        segment_descriptions=[segment_description(n, m) for n, m in enumerate(masks, start=1)],
        series_instance_uid=generate_uid(), series_number=SEG_SERIES_NUMBER, sop_instance_uid=generate_uid(),
        instance_number=1, manufacturer="ctrg-desktop", manufacturer_model_name="ctrg-desktop",
        software_versions=__version__, device_serial_number="none", content_label="CTRG_MASKS",
        content_description="masks drawn in ctrg-desktop (not for clinical use)"[:64],
        omit_empty_frames=True, specific_character_set="ISO_IR 192")
    seg.SeriesDescription = series_description[:64]
    with export_path(path) as tmp:
        seg.save_as(tmp, enforce_file_format=True)
    return ExportResult(path, warnings)


def segment_description(number: int, mask: MaskSpec) -> SegmentDescription:
    """The segment's label, codes, colour and how it was drawn."""
    category, kind, region = segment_codes(mask.name, mask.structure)
    algorithm = None
    if mask.algorithm:
        algorithm = AlgorithmIdentificationSequence(name=mask.algorithm[:64], version=__version__,
                                                    family=codes.cid7162.ArtificialIntelligence)
    return SegmentDescription(
        segment_number=number, segment_label=mask.name[:64], segmented_property_category=category,
        segmented_property_type=kind, algorithm_type="SEMIAUTOMATIC" if mask.algorithm else "MANUAL",
        algorithm_identification=algorithm, tracking_uid=generate_uid(), tracking_id=mask.name[:64],
        anatomic_regions=[region] if region is not None else None,
        display_color=CIELabColor.from_rgb(*mask.rgb))


def masks_on_frames(masks: list[MaskSpec], grid: Volume, source: SourceSeries,
                    every_frame: bool = False) -> tuple[np.ndarray, list[int], bool]:
    """The masks at the source frames' pixels (module docstring): ``(pixels, frames, aligned)``.

    ``pixels`` is a label map ``(n, rows, cols)`` (value = segment number) when no masks
    overlap, else ``(n, rows, cols, masks)`` 0/1; ``frames`` lists the indices into
    ``source.frames`` of its ``n`` frames: those holding a mask pixel, or all of them with
    ``every_frame``. ``aligned``: every source pixel centre fell on a voxel centre.
    """
    labels, overlap = label_map(masks)
    volumes = [m.array for m in masks] if overlap else [labels]
    occupied = labels.any(axis=(1, 2))                          # slices k holding any mask voxel
    rows, cols = source.frames[0].header.size
    shape = np.asarray(grid.shape)
    planes, kept, aligned = [], [], True
    for n, frame in enumerate(source.frames):
        if frame.header.size != (rows, cols):
            raise ExportError("the source frames differ in size; a SEG of this series cannot be written")
        v0, vr, vc = frame_mapping(frame, grid)
        aligned &= on_voxel_centres(v0, vr, vc)
        plane = np.zeros((len(volumes), rows, cols), dtype=labels.dtype)
        ks = v0[0] + np.array([0, (rows - 1) * vr[0], (cols - 1) * vc[0], (rows - 1) * vr[0] + (cols - 1) * vc[0]])
        lo, hi = max(int(np.floor(ks.min() + 0.5)), 0), min(int(np.floor(ks.max() + 0.5)), int(shape[0]) - 1)
        if lo <= hi and occupied[lo:hi + 1].any():
            axes = _grid_axes(v0, vr, vc)
            for s, volume in enumerate(volumes):
                if axes is not None:
                    _sample_aligned(volume, shape, axes, plane[s])
                else:
                    _sample_nearest(volume, shape, v0, vr, vc, plane[s])
        if every_frame or plane.any():
            planes.append(plane)
            kept.append(n)
    if not kept:
        raise ExportError("no mask voxel lies on a slice of the source series")
    stacked = np.stack(planes, axis=1)                          # (masks, n, rows, cols)
    # masks last as highdicom wants, as a view: its per-pixel sum over masks then runs fast
    return (np.moveaxis(stacked, 0, -1) if overlap else stacked[0]), kept, aligned


def _grid_axes(v0, vr, vc):
    """``(fixed axis, its index, row axis, row start, row step, column axis, column start, column
    step)`` when the frame is a plane of the grid (rows and columns along two grid axes, unit
    steps, pixel centres on voxel centres); else None."""
    if not on_voxel_centres(v0, vr, vc):
        return None
    iv0, ivr, ivc = (np.rint(v).astype(int) for v in (v0, vr, vc))
    if np.count_nonzero(ivr) != 1 or np.count_nonzero(ivc) != 1:
        return None
    ar, ac = int(np.flatnonzero(ivr)[0]), int(np.flatnonzero(ivc)[0])
    if ar == ac or abs(ivr[ar]) != 1 or abs(ivc[ac]) != 1:
        return None
    fixed = 3 - ar - ac
    return fixed, int(iv0[fixed]), ar, int(iv0[ar]), int(ivr[ar]), ac, int(iv0[ac]), int(ivc[ac])


def _sample_aligned(volume: np.ndarray, shape, axes, out: np.ndarray) -> None:
    """``out[r, c]`` = the voxel under pixel ``(r, c)`` of a frame lying on a grid plane (fast path)."""
    fixed, index, ar, r0, dr, ac, c0, dc = axes
    if not 0 <= index < shape[fixed]:
        return
    rows = r0 + dr * np.arange(out.shape[0])
    cols = c0 + dc * np.arange(out.shape[1])
    keep_r = np.flatnonzero((rows >= 0) & (rows < shape[ar]))
    keep_c = np.flatnonzero((cols >= 0) & (cols < shape[ac]))
    if keep_r.size == 0 or keep_c.size == 0:
        return
    plane = np.take(volume, index, axis=fixed)          # remaining axes in increasing order
    if ar > ac:
        plane = plane.T
    out[keep_r[0]:keep_r[-1] + 1, keep_c[0]:keep_c[-1] + 1] = \
        plane[_run(rows[keep_r[0]], rows[keep_r[-1]], dr), _run(cols[keep_c[0]], cols[keep_c[-1]], dc)]


def _run(first: int, last: int, step: int) -> slice:
    """The slice from ``first`` to ``last`` inclusive by ``step`` (+1 or -1)."""
    stop = last + step
    return slice(first, None if stop < 0 else stop, step)


def _sample_nearest(volume: np.ndarray, shape, v0, vr, vc, out: np.ndarray) -> None:
    """``out[r, c]`` = the voxel nearest pixel ``(r, c)``'s centre (any frame geometry)."""
    r = np.arange(out.shape[0], dtype=np.float64)[:, None]
    c = np.arange(out.shape[1], dtype=np.float64)[None, :]
    index = [np.broadcast_to(np.floor(v0[a] + r * vr[a] + c * vc[a] + 0.5).astype(np.intp), out.shape)
             for a in range(3)]
    inside = np.ones(out.shape, dtype=bool)
    for a in range(3):
        inside &= (index[a] >= 0) & (index[a] < shape[a])
    out[inside] = volume[tuple(x[inside] for x in index)]
