"""The source DICOM series of a study, re-read for the DICOM exports (headers only, no pixels).

A :class:`~ctrg_desktop.io.volume.Volume` keeps the series' folder but not its files, so the
DICOM SR and SEG exporters read the headers again here: every file of the folder (recursively),
of the zip (members read in place) or the single multi-frame file. The series is the one whose
SeriesInstanceUID the study names; when it names none (a draft does not keep UIDs) or the
files carry none, the one series whose frames all lie on the study's grid.

Anonymised series sometimes lack UIDs (the real demo series has empty SOPClassUID,
SOPInstanceUID, StudyInstanceUID and SeriesInstanceUID). The in-memory headers are repaired so
that derived objects can reference them: instance UIDs from the file meta information, the
study, series and frame-of-reference UIDs derived deterministically from the series' files;
each repair is a warning (a derived object then does not link to the original in a PACS).
"""

from __future__ import annotations

import warnings as _warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import CTImageStorage, generate_uid

from ctrg_desktop.errors import StudyReadError
from ctrg_desktop.export.content import DICOM_FORMATS, ReportContent, study_grid, study_info
from ctrg_desktop.export.errors import ExportError
from ctrg_desktop.io.dicom_multiframe import is_multiframe, multiframe_frames
from ctrg_desktop.io.dicom_scan import DicomHeader, list_files, text
from ctrg_desktop.io.dicom_series import Frame, single_frame
from ctrg_desktop.io.volume import Volume

#: Type 2 attributes highdicom copies from a source image; set to empty when absent.
_TYPE2 = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
          "StudyDate", "StudyTime", "ReferringPhysicianName")
#: Tolerance (voxels) for a frame corner outside the study grid's outer voxel edges.
_EDGE_TOLERANCE = 0.51
#: Voxels: pixel centres this close to voxel centres are on the grid.
ALIGNED_VOXELS = 1e-3


@dataclass
class SourceSeries:
    """The headers of the study's source series and its frames (in ``datasets`` order).

    ``datasets``: one per single-frame file, or the one multi-frame file; ``frames[n]`` is
    frame ``frames[n].index`` of the dataset ``frames[n].header.ds``.
    """

    path: str
    datasets: list[Dataset]
    frames: list[Frame]
    warnings: list[str] = field(default_factory=list)

    @property
    def multiframe(self) -> bool:
        return len(self.datasets) == 1 and len(self.frames) > 1

    @property
    def study_instance_uid(self) -> str:
        return str(self.datasets[0].StudyInstanceUID)

    @property
    def series_instance_uid(self) -> str:
        return str(self.datasets[0].SeriesInstanceUID)


def load_source_series(study) -> SourceSeries:
    """The source series of ``study`` (a :class:`ReportContent`, its study dict or a Volume).

    ExportError when the study was not read from DICOM, its files are gone, or no series (or
    more than one) in them matches the study.
    """
    info = _study_dict(study)
    grid = study_grid(study)
    fmt, source = info.get("format"), info.get("source")
    if fmt not in DICOM_FORMATS:
        raise ExportError(f"DICOM exports need a study read from DICOM; this one is "
                          f"{fmt or 'of unknown format'} ({Path(source).name if source else 'no source'})")
    if not source or not Path(source).exists():
        raise ExportError(f"the study's DICOM files are no longer at {source}: DICOM exports re-read "
                          "their headers")
    headers = _read_headers(Path(source))
    if not headers:
        raise ExportError(f"no DICOM image files found in {source}")
    groups: dict[str, list[DicomHeader]] = {}
    for h in headers:
        groups.setdefault(text(h.ds, "SeriesInstanceUID"), []).append(h)
    uid = info.get("series_instance_uid") or ""
    if uid and uid in groups:
        chosen = {uid: groups[uid]}
    else:
        chosen = groups
    notes: list[str] = []
    matches = {}
    for key, group in chosen.items():
        frames = _frames(group, notes)
        if frames and _on_grid(frames, grid):
            matches[key] = frames
    if not matches:
        raise ExportError(f"no DICOM series in {source} lies on the study's grid: the files changed since "
                          "the study was read")
    if len(matches) > 1:  # e.g. a reformat within the same volume: prefer the series the grid is made of
        own = {k: f for k, f in matches.items() if all(_aligned(frame, grid) for frame in f)}
        matches = own or matches
    if len(matches) > 1:
        raise ExportError(f"{len(matches)} DICOM series in {source} lie on the study's grid; export from the "
                          "open study so its series UID is known")
    frames = next(iter(matches.values()))
    return _repaired(str(source), frames, notes)


def _study_dict(study) -> dict:
    if isinstance(study, ReportContent):
        return study.study
    if isinstance(study, Volume):
        return study_info(study)
    return dict(study)


def _read_headers(source: Path) -> list[DicomHeader]:
    """Full headers (no pixel data) of every readable DICOM image file in ``source``."""
    if source.is_dir():
        items = [(p, lambda p=p: open(p, "rb")) for p, _ in list_files(source)]
    elif source.suffix.lower() == ".zip":
        return _zip_headers(source)
    else:
        items = [(str(source), lambda: open(source, "rb"))]
    out = []
    for name, opener in items:
        header = _header(name, opener)
        if header is not None:
            out.append(header)
    return out


def _zip_headers(source: Path) -> list[DicomHeader]:
    out = []
    try:
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if info.is_dir() or "__MACOSX/" in info.filename or base.startswith("._") \
                        or base.upper() == "DICOMDIR":
                    continue
                header = _header(f"{source}!{info.filename}", lambda info=info: zf.open(info))
                if header is not None:
                    out.append(header)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportError(f"cannot read the study's archive {source}: {exc}") from exc
    return out


def _header(name: str, opener) -> DicomHeader | None:
    try:
        with opener() as fp, _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            try:
                ds = dcmread(fp, stop_before_pixels=True)
            except InvalidDicomError:  # no preamble: try as a bare data set, as the reader does
                fp.seek(0)
                ds = dcmread(fp, stop_before_pixels=True, force=True)
    except OSError as exc:
        raise ExportError(f"cannot read {name}: {exc.strerror or exc}") from exc
    except Exception:  # pydicom raises many types on files that are not DICOM: skip them
        return None
    header = DicomHeader(name, name, ds, 0)
    if not header.is_image or header.is_localizer:
        return None
    return header


def _frames(headers: list[DicomHeader], notes: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    try:
        for h in headers:
            frames.extend(multiframe_frames(h, notes) if is_multiframe(h) else [single_frame(h)])
    except StudyReadError:
        return []
    return frames


def frame_mapping(frame: Frame, grid: Volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(v0, vr, vc)``: the study-grid voxel ``(k, j, i)`` of the frame's pixel ``(r, c)`` is
    ``v0 + r * vr + c * vc`` (row ``r`` steps along the column direction cosines, column ``c``
    along the row direction cosines, by PixelSpacing)."""
    inverse = np.linalg.inv(grid.affine[:3, :3])
    row_dir, col_dir = frame.orientation[:3], frame.orientation[3:]
    dr, dc = frame.pixel_spacing
    v0 = inverse @ (np.asarray(frame.position) - np.asarray(grid.origin))
    return v0, inverse @ (dr * col_dir), inverse @ (dc * row_dir)


def on_voxel_centres(v0, vr, vc) -> bool:
    """True when a frame mapping (:func:`frame_mapping`) puts every pixel centre on a voxel centre."""
    return all(np.abs(v - np.rint(v)).max() < ALIGNED_VOXELS for v in (v0, vr, vc))


def _aligned(frame: Frame, grid: Volume) -> bool:
    return on_voxel_centres(*frame_mapping(frame, grid))


def _on_grid(frames: list[Frame], grid: Volume) -> bool:
    """True when every frame's corners lie within the study grid (a matching series)."""
    upper = np.asarray(grid.shape) - 1 + _EDGE_TOLERANCE
    for f in frames:
        rows, cols = f.header.size
        v0, vr, vc = frame_mapping(f, grid)
        corners = np.array([v0, v0 + (rows - 1) * vr, v0 + (cols - 1) * vc, v0 + (rows - 1) * vr + (cols - 1) * vc])
        if np.any(corners < -_EDGE_TOLERANCE) or np.any(corners > upper):
            return False
    return True


def _repaired(source: str, frames: list[Frame], notes: list[str]) -> SourceSeries:
    """Copies of the headers with the UIDs and Type 2 attributes derived objects need."""
    order: list[int] = []
    seen: dict[int, int] = {}
    for f in frames:
        if id(f.header) not in seen:
            seen[id(f.header)] = len(order)
            order.append(id(f.header))
    headers = {id(f.header): f.header for f in frames}
    if len(order) > 1 and any(h.frames > 1 for h in headers.values()):
        raise ExportError(f"the series in {source} spreads over {len(order)} multi-frame files; DICOM exports "
                          "support one multi-frame file or single-frame files")
    if all(h.frames == 1 for h in headers.values()):
        row, col = frames[0].orientation[:3], frames[0].orientation[3:]
        normal = np.cross(row, col)
        frames = sorted(frames, key=lambda f: float(np.asarray(f.position) @ normal))
        seen = {id(f.header): n for n, f in enumerate(frames)}
        order = [id(f.header) for f in frames]
    warnings_: list[str] = []
    datasets = []
    for key in order:
        ds = headers[key].ds.copy()
        headers[key].ds = ds
        meta = getattr(ds, "file_meta", Dataset())
        if not text(ds, "SOPInstanceUID"):
            ds.SOPInstanceUID = text(meta, "MediaStorageSOPInstanceUID") or \
                generate_uid(entropy_srcs=[headers[key].display])
        if not text(ds, "SOPClassUID"):
            ds.SOPClassUID = text(meta, "MediaStorageSOPClassUID") or CTImageStorage
        for keyword in _TYPE2:
            if keyword not in ds:
                setattr(ds, keyword, "")
        datasets.append(ds)
    entropy = sorted(str(ds.SOPInstanceUID) for ds in datasets)
    derived = []
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        values = {text(ds, keyword) for ds in datasets}
        if values == {""} or (len(values) > 1 and "" in values):
            uid = next((v for v in values if v), None) or generate_uid(entropy_srcs=[keyword, *entropy])
            for ds in datasets:
                setattr(ds, keyword, uid)
            derived.append(keyword)
    if derived:
        warnings_.append(f"the source series has no {', '.join(derived)} (anonymised?): derived UIDs were "
                         "written, so the export does not link to the original study in a PACS")
    if len({str(ds.SOPInstanceUID) for ds in datasets}) < len(datasets):
        raise ExportError(f"the files in {source} repeat SOP instance UIDs; they cannot be referenced")
    frames = sorted(frames, key=lambda f: (seen[id(f.header)], f.index))
    return SourceSeries(source, datasets, frames, notes + warnings_)
