"""Entry points: list the series in a path and read one as a canonical-LPS CT :class:`Volume`.

``path`` may be a DICOM folder (searched recursively; only regular files are read, other
entries are skipped with a warning), a ``.zip`` of DICOM files (headers read from the archive;
the chosen series extracted to a private temporary folder removed afterwards, see
:mod:`ctrg_desktop.io.zip_source`), a single DICOM file (a multi-frame image; a single slice is
refused), or a ``.nii``/``.nii.gz``/``.nrrd``/``.nhdr``/``.mha``/``.mhd`` image read with
SimpleITK after its header has been checked (:mod:`ctrg_desktop.io.image_headers`). A path
that is neither a regular file nor a folder (a named pipe, ``/dev/zero``) is refused. Errors
are :class:`StudyReadError` subclasses with one-line messages naming the file and the problem.
Nothing identifying is logged.

Sizes declared in headers are checked against ``CTRG_MAX_VOLUME_MB`` before anything is
decoded, and no volume leaves with NaN or infinite voxels (:mod:`ctrg_desktop.io.safety`).

Choosing a series when none is named: a path with one series reads it; with several, the one
CT series of at least 3 slices (other series such as dose reports or localizers are ignored
with a warning); otherwise :class:`MultipleSeriesError` lists them all.
"""

from __future__ import annotations

import logging
import math
import stat
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk

from ctrg_desktop.errors import (MultipleSeriesError, NotDicomError, StudyReadError,
                                 TruncatedFileError, UnsupportedModalityError)
from ctrg_desktop.io.dicom_multiframe import is_multiframe, multiframe_frames
from ctrg_desktop.io.dicom_pixels import check_pixel_length
from ctrg_desktop.io.dicom_scan import (DicomHeader, ScanResult, group_series, list_files, read_header,
                                        scan, study_meta, text)
from ctrg_desktop.io.dicom_series import MIN_SLICES, Frame, assemble_volume, single_frame
from ctrg_desktop.io.image_headers import check_data_complete, inspect_image
from ctrg_desktop.io.itk_quiet import itk_warnings_off
from ctrg_desktop.io.progress import CancelCallback, ProgressCallback, Reporter
from ctrg_desktop.io.safety import check_spacing, check_volume_bytes, repair_non_finite
from ctrg_desktop.io.sitk_bridge import image_to_volume
from ctrg_desktop.io.streamed_read import can_stream, read_streamed
from ctrg_desktop.io.volume import SeriesInfo, StudyMeta, Volume
from ctrg_desktop.io.zip_source import extract_members, scan_zip, workspace

log = logging.getLogger(__name__)

#: File name endings read with SimpleITK, and the ``SeriesInfo.source_format`` they give.
IMAGE_FORMATS = {".nii.gz": "nifti", ".nii": "nifti", ".nrrd": "nrrd", ".nhdr": "nrrd",
                 ".mha": "metaimage", ".mhd": "metaimage"}
SUPPORTED = "a DICOM folder, .zip or file, .nii, .nii.gz, .nrrd, .nhdr, .mha or .mhd"
_DICOM_SUFFIXES = {"", ".dcm", ".dicom", ".dic", ".ima"}
_CT_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1",
                   "1.2.840.10008.5.1.4.1.1.2.2"}


@dataclass(frozen=True)
class SeriesSummary:
    """One series found in a path. The UIDs and file paths identify a study: :meth:`to_dict`
    leaves them out, except the series UID needed to choose the series."""

    series_instance_uid: str
    description: str
    modality: str
    slice_count: int          #: images (frames) in the series
    rows: int
    columns: int
    source_format: str        #: as ``SeriesInfo.source_format``
    path: str                 #: the folder, zip or file to pass to :func:`read_study`
    files: tuple[str, ...] = field(default=(), repr=False)  #: its files ("archive.zip!member")
    study_instance_uid: str = ""
    series_number: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready, without PHI: no study UID, no file paths (the series UID is kept to choose)."""
        return {"series_instance_uid": self.series_instance_uid, "series_number": self.series_number,
                "description": self.description, "modality": self.modality,
                "slice_count": self.slice_count, "rows": self.rows, "columns": self.columns,
                "source_format": self.source_format, "file_count": len(self.files)}

    def label(self) -> str:
        """A short one-line description for messages and menus."""
        number = f"#{self.series_number} " if self.series_number is not None else ""
        desc = f"'{self.description}' " if self.description else ""
        return f"{number}{desc}({self.modality or '?'}, {self.slice_count} images, UID {self.series_instance_uid})"


def list_series(path: str | Path) -> list[SeriesSummary]:
    """Every series in ``path`` (folder, zip or file), ordered by series number."""
    return [summary for summary, _ in scan_series(path)]


def scan_series(path: str | Path, progress: ProgressCallback | None = None,
                cancel: CancelCallback | None = None) -> list[tuple[SeriesSummary, list[DicomHeader]]]:
    """:func:`list_series` with each series' DICOM headers (no pixel data; ``[]`` for a NIfTI,
    NRRD or MetaImage file); ``cancel()`` returning True raises :class:`LoadCancelled`."""
    path = _existing(path)
    image_format = _image_format(path)
    if image_format:
        return [(_image_summary(path, image_format), [])]
    kind, scanned, _ = _scan_source(path, Reporter(progress, cancel))
    groups = group_series(scanned.headers)
    return [(s, groups[s.series_instance_uid]) for s in _summaries(path, kind, groups)]


def read_study(path: str | Path, series_uid: str | None = None, progress: ProgressCallback | None = None,
               cancel: CancelCallback | None = None, allow_non_ct: bool = False) -> Volume:
    """Read one series of ``path`` as a canonical-LPS HU Volume (see module docstring).

    ``progress(fraction, message)`` is called as reading advances; when ``cancel()`` returns
    True, :class:`LoadCancelled` is raised. ``allow_non_ct`` reads MR/PT/... series too.
    """
    started = time.perf_counter()
    path = _existing(path)
    reporter = Reporter(progress, cancel)
    image_format = _image_format(path)
    if image_format:
        volume = _read_image(path, image_format, reporter)
    else:
        kind, scanned, notes = _scan_source(path, reporter.stage(0.0, 0.35))
        groups = group_series(scanned.headers)
        uid = _choose(path, kind, groups, series_uid, allow_non_ct, notes)
        volume = _read_dicom(path, kind, groups[uid], allow_non_ct, notes, reporter.stage(0.35, 1.0))
    volume = repair_non_finite(volume, str(path))
    reporter(1, 1, "done")
    log.info("read a %s volume of shape %s in %.2f s", volume.series.source_format, volume.shape,
             time.perf_counter() - started)
    return volume


def _existing(path: str | Path) -> Path:
    """``path`` when it is a folder or a regular file (links followed), else StudyReadError."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        if path.is_symlink():
            raise StudyReadError(f"{path} is a broken or looping symbolic link") from None
        raise StudyReadError(f"{path} does not exist") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        what = ("a named pipe" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
                else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "not a regular file")
        raise StudyReadError(f"{path} is {what}, not a study: open {SUPPORTED}")
    return path


def _image_format(path: Path) -> str | None:
    name = path.name.lower()
    return next((fmt for end, fmt in IMAGE_FORMATS.items() if name.endswith(end)), None) \
        if path.is_file() else None


def _scan_source(path: Path, reporter: Reporter) -> tuple[str, ScanResult, list[str]]:
    """``(kind, headers, notes)``; kind is "dicom-series", "dicom-zip" or "dicom-file"."""
    notes: list[str] = []
    skipped: list[str] = []
    if path.is_dir():
        kind = "dicom-series"
        files = list_files(path, skipped)
        if skipped:
            shown = "; ".join(skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
            notes.append(f"{len(skipped)} path(s) skipped, not regular files: {shown}")
        scanned = scan(files, reporter)
    elif path.suffix.lower() == ".zip":
        kind = "dicom-zip"
        scanned = scan_zip(path, reporter)
    else:
        kind = "dicom-file"
        scanned = _scan_file(path)
    if not scanned.headers:
        where = "archive" if kind == "dicom-zip" else "folder"
        others = len(scanned.skipped) + len(skipped)
        if not others:
            raise StudyReadError(f"{path} is an empty {where}")
        raise NotDicomError(f"{path}: no DICOM files in this {where} (only {others} other file(s))")
    if scanned.skipped:
        notes.insert(0, scanned.skipped_note())
    return kind, scanned, notes


def _scan_file(path: Path) -> ScanResult:
    try:
        return ScanResult([read_header(path)])
    except NotDicomError:
        if path.suffix.lower() in _DICOM_SUFFIXES:
            raise
        raise NotDicomError(f"{path} is not a DICOM file, and '{path.suffix}' is not a supported "
                            f"format (open {SUPPORTED})") from None


def _summaries(path: Path, kind: str, groups: dict[str, list[DicomHeader]]) -> list[SeriesSummary]:
    out = []
    for uid, headers in groups.items():
        images = [h for h in headers if h.is_image] or headers
        ds = images[0].ds
        rows, columns = Counter(h.size for h in images).most_common(1)[0][0]
        out.append(SeriesSummary(
            series_instance_uid=uid, description=text(ds, "SeriesDescription"),
            modality=_modality(headers), slice_count=sum(h.frames for h in headers if h.is_image),
            rows=rows, columns=columns, source_format=_source_format(kind, headers), path=str(path),
            files=tuple(h.display for h in headers), study_instance_uid=text(ds, "StudyInstanceUID"),
            series_number=_int_or_none(text(ds, "SeriesNumber"))))
    return sorted(out, key=lambda s: (s.series_number is None, s.series_number or 0, s.description))


def _int_or_none(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None


def _source_format(kind: str, headers: list[DicomHeader]) -> str:
    if kind == "dicom-zip":
        return kind
    return "dicom-multiframe" if any(is_multiframe(h) for h in headers) else "dicom-series"


def _modality(headers: list[DicomHeader]) -> str:
    """The series' modality; CT when only the SOP class says so; '' when nothing does."""
    found = Counter(h.modality for h in headers if h.modality)
    if found:
        return found.most_common(1)[0][0]
    return "CT" if any(text(h.ds, "SOPClassUID") in _CT_SOP_CLASSES for h in headers) else ""


def _is_candidate(headers: list[DicomHeader], allow_non_ct: bool) -> bool:
    modality = _modality(headers)
    images = [h for h in headers if h.is_image and not h.is_localizer]
    return (modality in ("CT", "") or allow_non_ct) and sum(h.frames for h in images) >= MIN_SLICES


def _choose(path: Path, kind: str, groups: dict[str, list[DicomHeader]], series_uid: str | None,
            allow_non_ct: bool, notes: list[str]) -> str:
    """The UID of the series to read (module docstring), or an error listing the series."""
    if series_uid is not None:
        if series_uid not in groups:
            raise StudyReadError(f"series {series_uid} is not in {path}, which holds {len(groups)} "
                                 f"series: {', '.join(groups)}")
        return series_uid
    if len(groups) == 1:
        return next(iter(groups))
    summaries = _summaries(path, kind, groups)
    candidates = [uid for uid, headers in groups.items() if _is_candidate(headers, allow_non_ct)]
    if len(candidates) == 1:
        notes.append(f"{len(groups) - 1} other series ignored (not CT volumes): "
                     + "; ".join(s.label() for s in summaries if s.series_instance_uid != candidates[0]))
        return candidates[0]
    if not candidates and not allow_non_ct and all(s.modality not in ("CT", "") for s in summaries):
        raise UnsupportedModalityError(
            f"{path} holds no CT series, only {', '.join(sorted({s.modality for s in summaries}))} "
            "(allow_non_ct=True, or --allow-non-ct on the command line, reads them anyway)")
    raise MultipleSeriesError(
        f"{path} holds {len(groups)} series; choose one by its series UID (series_uid=..., or "
        f"--series UID on the command line): " + "; ".join(s.label() for s in summaries),
        series=summaries)


def _read_dicom(path: Path, kind: str, headers: list[DicomHeader], allow_non_ct: bool,
                notes: list[str], reporter: Reporter) -> Volume:
    first = headers[0]
    modality = _modality(headers)
    description = text(first.ds, "SeriesDescription")
    if modality not in ("CT", "") and not allow_non_ct:
        raise UnsupportedModalityError(
            f"{first.display}: series '{description}' is {modality}, not CT; ctrg-desktop reads CT "
            "studies (allow_non_ct=True, or --allow-non-ct on the command line, reads it anyway)")
    if not modality:
        notes.append("the files name no modality; assumed CT")
    images = [h for h in headers if h.is_image]
    if not images:
        raise StudyReadError(f"{first.display}: series '{description}' holds no images")
    if len(images) < len(headers):  # non-image files of an image's class: headers cut short
        classes = {text(h.ds, "SOPClassUID") for h in images} | {""}
        cut = [h for h in headers if not h.is_image and text(h.ds, "SOPClassUID") in classes]
        if cut:
            raise TruncatedFileError(f"{cut[0].display} ends inside its header (it lacks the image "
                                     "elements the other files of its series have)")
    localizers = [h for h in images if h.is_localizer]
    if localizers and len(localizers) < len(images):
        notes.append(f"{len(localizers)} localizer image(s) left out of the volume")
        images = [h for h in images if not h.is_localizer]
    _check_declared_pixels(path, images)
    frames: list[Frame] = []
    for h in images:
        frames.extend(multiframe_frames(h, notes) if is_multiframe(h) else [single_frame(h)])
    if kind == "dicom-file" and len(frames) == 1:
        raise StudyReadError(f"{path} is a single DICOM slice; a volume needs at least {MIN_SLICES} "
                             "slices: open the folder (or zip) holding the whole series")
    syntaxes = sorted({h.transfer_syntax.name if h.transfer_syntax else "unknown" for h in images})
    series = SeriesInfo(modality=modality or "CT", description=description, series_instance_uid=first.series_uid,
                        source_format=_source_format(kind, images), source_path=str(path),
                        slice_count=len(frames), transfer_syntax=", ".join(syntaxes), warnings=notes)
    if kind != "dicom-zip":
        return assemble_volume(frames, series, study_meta(images[0].ds), reporter)
    with workspace() as folder:
        extract_members(path, images, folder, reporter.stage(0.0, 0.3))
        return assemble_volume(frames, series, study_meta(images[0].ds), reporter.stage(0.3, 1.0))


def _check_declared_pixels(path: Path, images: list[DicomHeader]) -> None:
    """Refuse, before any pixel is read, a series over the size limit or a file cut short."""
    total = sum(h.frames * h.size[0] * h.size[1] * max(math.ceil(_bits(h) / 8), 1) for h in images)
    rows, cols = max(h.size for h in images)
    check_volume_bytes(total, images[0].display if len(images) == 1 else f"{path} (series '"
                       f"{text(images[0].ds, 'SeriesDescription')}', {len(images)} files)",
                       f"{sum(h.frames for h in images)} image(s) of up to {rows} x {cols} pixels")
    for h in images:
        check_pixel_length(h)


def _bits(header: DicomHeader) -> int:
    try:
        return int(header.ds.get("BitsAllocated") or 16)
    except (TypeError, ValueError):
        return 16


def _read_image(path: Path, image_format: str, reporter: Reporter) -> Volume:
    reporter(0, 1, f"reading {image_format}")
    layout = inspect_image(path, image_format)  # before ITK: an invalid spacing is named here
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    with _itk_warnings_off():
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            raise _unreadable(path, image_format) from None
        _check_image(path, reader, image_format)
        if layout is not None:
            check_data_complete(path, layout)
        series = SeriesInfo(modality="CT", source_format=image_format, source_path=str(path),
                            slice_count=reader.GetSize()[2],
                            warnings=list(layout.warnings) if layout is not None else [])
        try:
            if can_stream(path, reader):
                return read_streamed(reader, series, reporter)
            image = reader.Execute()
        except RuntimeError:
            raise _unreadable(path, image_format) from None
    check_spacing(image.GetSpacing(), str(path))
    return image_to_volume(image, series, StudyMeta())


def _unreadable(path: Path, image_format: str) -> StudyReadError:
    return StudyReadError(f"{path} cannot be read as {image_format} (damaged, incomplete or "
                          "not in that format)")


_itk_warnings_off = itk_warnings_off  # the name the readers use


#: bytes per component of SimpleITK's scalar pixel types (others: assumed 8)
_PIXEL_BYTES = {sitk.sitkUInt8: 1, sitk.sitkInt8: 1, sitk.sitkUInt16: 2, sitk.sitkInt16: 2,
                sitk.sitkUInt32: 4, sitk.sitkInt32: 4, sitk.sitkFloat32: 4, sitk.sitkUInt64: 8,
                sitk.sitkInt64: 8, sitk.sitkFloat64: 8}


def _check_image(path: Path, reader: sitk.ImageFileReader, image_format: str) -> None:
    """Dimension, components, slices, spacing and declared size, from the header only."""
    dimension, components, size = reader.GetDimension(), reader.GetNumberOfComponents(), reader.GetSize()
    if dimension != 3 or components != 1:
        raise StudyReadError(f"{path} is a {dimension}D image with {components} component(s) per "
                             "voxel; a CT volume is one 3D grey-scale image")
    if min(size) < 1:
        raise StudyReadError(f"{path} declares {' x '.join(map(str, size))} voxels: no image")
    per_voxel = _PIXEL_BYTES.get(reader.GetPixelID(), 8)
    check_volume_bytes(math.prod(size) * per_voxel, str(path),
                       f"{' x '.join(map(str, size))} voxels of {per_voxel} byte(s)")
    if size[2] < MIN_SLICES:
        raise StudyReadError(f"{path} has {size[2]} slice(s); a volume needs at least {MIN_SLICES}")
    spacing = reader.GetSpacing()
    if image_format == "metaimage":  # ITK reads a negative spacing as positive, the axis reversed
        spacing = [abs(s) for s in spacing]
    check_spacing(spacing, str(path))
    direction = reader.GetDirection()
    if not all(math.isfinite(v) for v in (*direction, *reader.GetOrigin())):
        raise StudyReadError(f"{path} has an invalid orientation or origin in its header "
                             "(values that are not finite numbers)")


def _image_summary(path: Path, image_format: str) -> SeriesSummary:
    inspect_image(path, image_format)  # header errors in our words, before ITK prints its own
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    with _itk_warnings_off():
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            raise _unreadable(path, image_format) from None
    size = (*reader.GetSize(), 1, 1, 1)  # a header may declare fewer than 3 dimensions
    return SeriesSummary(series_instance_uid="", description="", modality="", slice_count=size[2],
                         rows=size[1], columns=size[0], source_format=image_format, path=str(path),
                         files=(str(path),))
