"""What a study path holds, from headers only: one entry per series for the study/series browser,
and the study's details as labelled fields for the Study panel.

:func:`catalog` lists the series of a DICOM folder, zip or file (the headers that
:func:`~ctrg_desktop.io.readers.scan_series` reads, never the pixel data) or the one image of a
NIfTI / NRRD / MetaImage file (its header, through SimpleITK), with the patient and study each
belongs to, its geometry (matrix, pixel spacing, slice thickness, the median step between slice
positions) and how many bytes its files take. :func:`describe_study` turns an opened
:class:`Volume` (and its catalog entry, when known) into sections of ``(label, value)`` rows.

Patient name, ID, birth date and the study date and time are PHI: the GUI shows them, nothing
here logs them, and :meth:`SeriesEntry.to_dict` leaves them out unless asked.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctrg_desktop.errors import StudyReadError
from ctrg_desktop.io.dicom_multiframe import is_multiframe, multiframe_frames
from ctrg_desktop.io.dicom_scan import DicomHeader, text
from ctrg_desktop.io.dicom_series import SAME_POSITION_MM, numbers, single_frame
from ctrg_desktop.io.progress import CancelCallback
from ctrg_desktop.io.readers import SeriesSummary, scan_series
from ctrg_desktop.io.volume import Volume

MB = 1_000_000  #: sizes are shown in megabytes (10^6 bytes)

#: ``SeriesInfo.source_format`` -> a name for people
FORMAT_NAMES = {"dicom-series": "DICOM series", "dicom-zip": "DICOM in a zip archive",
                "dicom-multiframe": "DICOM multi-frame", "nifti": "NIfTI", "nrrd": "NRRD",
                "metaimage": "MetaImage"}


@dataclass(frozen=True)
class SeriesEntry:
    """One series of a study path, as its headers describe it (unknown values are '' or None)."""

    summary: SeriesSummary
    patient_name: str = ""        #: PHI, as stored (DICOM ``Family^Given^Middle^Prefix^Suffix``)
    patient_id: str = ""          #: PHI
    study_date: str = ""          #: PHI, ``YYYYMMDD``
    study_time: str = ""          #: PHI, ``HHMMSS.frac``
    study_description: str = ""
    pixel_spacing: tuple[float, float] | None = None  #: (between rows, between columns) mm
    slice_thickness: float | None = None  #: SliceThickness, mm
    slice_spacing: float | None = None    #: median step between slice positions, mm
    size_bytes: int | None = None         #: the series' files (zip members: inflated size)

    # --- the summary's fields ---------------------------------------------------------------
    @property
    def series_instance_uid(self) -> str:
        return self.summary.series_instance_uid

    @property
    def description(self) -> str:
        return self.summary.description

    @property
    def modality(self) -> str:
        return self.summary.modality

    @property
    def images(self) -> int:
        return self.summary.slice_count

    @property
    def path(self) -> str:
        return self.summary.path

    # --- display text -------------------------------------------------------------------------
    def patient_text(self) -> str:
        return person_name(self.patient_name)

    def date_text(self) -> str:
        """``2024-01-02 14:30`` (the parts that are known)."""
        return " ".join(v for v in (date_text(self.study_date), time_text(self.study_time)) if v)

    def matrix_text(self) -> str:
        """``columns x rows`` of the images; '' when unknown."""
        s = self.summary
        return f"{s.columns} x {s.rows}" if s.rows and s.columns else ""

    def spacing_text(self) -> str:
        """``column x row x slice`` spacing in mm (the slice step from the positions)."""
        if self.pixel_spacing is None:
            return ""
        values = [self.pixel_spacing[1], self.pixel_spacing[0]]
        if self.slice_spacing is not None:
            values.append(self.slice_spacing)
        return " x ".join(number_text(v) for v in values)

    def thickness_text(self) -> str:
        return number_text(self.slice_thickness) if self.slice_thickness is not None else ""

    def size_text(self) -> str:
        """Size of the series' files in MB (10^6 bytes)."""
        if self.size_bytes is None:
            return ""
        mb = self.size_bytes / MB
        return f"{mb:.2f}" if mb < 10 else f"{mb:.1f}" if mb < 1000 else f"{mb:,.0f}"

    def to_dict(self, phi: bool = False) -> dict:
        """JSON-ready; patient name, ID and study date/time only with ``phi=True``."""
        out = {**self.summary.to_dict(), "study_description": self.study_description,
               "pixel_spacing_mm": list(self.pixel_spacing) if self.pixel_spacing else None,
               "slice_thickness_mm": self.slice_thickness, "slice_spacing_mm": self.slice_spacing,
               "size_bytes": self.size_bytes}
        if phi:
            out.update(patient_name=self.patient_name, patient_id=self.patient_id,
                       study_date=self.study_date, study_time=self.study_time)
        return out


def catalog(path: str | Path, cancel: CancelCallback | None = None) -> list[SeriesEntry]:
    """Every series in ``path`` (folder, zip or file) from its headers, grouped by study (oldest
    first), by series number within a study. StudyReadError as :func:`read_study` raises it;
    :class:`LoadCancelled` when ``cancel()`` returns True."""
    found = scan_series(path, cancel=cancel)
    entries = [_dicom_entry(summary, headers) if headers else _image_entry(summary)
               for summary, headers in found]
    first_seen: dict[str, int] = {}
    for n, e in enumerate(entries):
        first_seen.setdefault(e.summary.study_instance_uid, n)
    return sorted(entries, key=lambda e: (e.study_date or "99999999", e.study_time,
                                          first_seen[e.summary.study_instance_uid]))


def _dicom_entry(summary: SeriesSummary, headers: list[DicomHeader]) -> SeriesEntry:
    images = [h for h in headers if h.is_image]
    ds = (images or headers)[0].ds
    pixel, step = _geometry([h for h in images if not h.is_localizer] or images)
    return SeriesEntry(
        summary, patient_name=text(ds, "PatientName"), patient_id=text(ds, "PatientID"),
        study_date=text(ds, "StudyDate"), study_time=text(ds, "StudyTime"),
        study_description=text(ds, "StudyDescription"), pixel_spacing=pixel,
        slice_thickness=_thickness(images[0]) if images else None, slice_spacing=step,
        size_bytes=sum(h.file_size for h in headers))


def _geometry(images: list[DicomHeader]) -> tuple[tuple[float, float] | None, float | None]:
    """(pixel spacing, median step between distinct slice positions) from the headers; None
    for what the headers do not give (they are checked again when the series is read)."""
    frames = []
    for h in images:
        try:
            frames.extend(multiframe_frames(h, []) if is_multiframe(h) else [single_frame(h)])
        except StudyReadError:
            continue
    if not frames:
        return None, None
    orientation = frames[0].orientation
    normal = np.cross(orientation[:3], orientation[3:])
    normal /= np.linalg.norm(normal)
    along = np.unique(np.round(np.array([f.position for f in frames]) @ normal / SAME_POSITION_MM))
    steps = np.diff(along) * SAME_POSITION_MM
    step = round(float(np.median(steps)), 4) if len(steps) else None
    return tuple(float(v) for v in frames[0].pixel_spacing), step


def _thickness(header: DicomHeader) -> float | None:
    """SliceThickness of the file, else of its shared functional groups (enhanced files)."""
    ds = header.ds
    value = numbers(ds, "SliceThickness")
    if not value:
        shared = ds.get("SharedFunctionalGroupsSequence")
        measures = shared[0].get("PixelMeasuresSequence") if shared else None
        value = numbers(measures[0], "SliceThickness") if measures else None
    return float(value[0]) if value and math.isfinite(value[0]) and value[0] > 0 else None


def _image_entry(summary: SeriesSummary) -> SeriesEntry:
    """A NIfTI / NRRD / MetaImage file: spacing from its header, no patient or study details."""
    import SimpleITK as sitk

    from ctrg_desktop.io.image_headers import inspect_image
    from ctrg_desktop.io.itk_quiet import itk_warnings_off

    path = Path(summary.path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        with itk_warnings_off():
            reader.ReadImageInformation()  # list_series has read it once: it works
        spacing = [abs(float(v)) for v in (*reader.GetSpacing(), 1.0, 1.0)][:3]
    except RuntimeError:
        spacing = None
    size = _file_size(path)
    layout = inspect_image(path, summary.source_format)
    if layout is not None and Path(layout.data_path) != path:  # .mhd + .raw, .nhdr + data file
        size = None if size is None else size + (_file_size(Path(layout.data_path)) or 0)
    return SeriesEntry(summary, pixel_spacing=(spacing[1], spacing[0]) if spacing else None,
                       slice_spacing=spacing[2] if spacing else None, size_bytes=size)


def _file_size(path: Path) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


# --- display text ---------------------------------------------------------------------------
def person_name(value: str) -> str:
    """A DICOM person name ``Family^Given^Middle^Prefix^Suffix`` as ``Family, Prefix Given Middle,
    Suffix`` (the first non-empty of its alphabetic/ideographic/phonetic groups)."""
    group = next((g for g in str(value or "").split("=") if g.strip("^ ")), "")
    parts = [p.strip() for p in group.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    rest = " ".join(p for p in (prefix, given, middle) if p)
    name = ", ".join(p for p in (family, rest) if p)
    return f"{name}, {suffix}" if suffix and name else name or suffix


def date_text(value: str) -> str:
    """DICOM ``YYYYMMDD`` as ``YYYY-MM-DD`` (anything else as given)."""
    value = str(value or "").strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def time_text(value: str) -> str:
    """DICOM ``HHMMSS.frac`` as ``HH:MM`` (anything else as given)."""
    value = str(value or "").strip()
    digits = value.split(".")[0]
    if len(digits) >= 4 and digits.isdigit():
        return f"{digits[:2]}:{digits[2:4]}"
    return value


def age_text(value: str) -> str:
    """DICOM ``061Y`` / ``003M`` / ``002W`` / ``010D`` as ``61 years`` ... (anything else as given)."""
    value = str(value or "").strip()
    units = {"Y": "years", "M": "months", "W": "weeks", "D": "days"}
    if len(value) == 4 and value[:3].isdigit() and value[3].upper() in units:
        return f"{int(value[:3])} {units[value[3].upper()]}"
    return value


def number_text(value: float, places: int = 3) -> str:
    """``0.703125`` -> ``0.703``, ``1.25`` -> ``1.25``, ``5.0`` -> ``5``."""
    return f"{value:.{places}f}".rstrip("0").rstrip(".")


# --- the Study panel --------------------------------------------------------------------------
Section = tuple[str, list[tuple[str, str]]]


def describe_study(volume: Volume, summary: dict | None = None,
                   entry: SeriesEntry | None = None) -> list[Section]:
    """The opened study as sections (Patient, Study, Series, Geometry, Format, Source) of
    ``(label, value)`` rows, empty values left out. ``summary`` is ``volume.summary()`` (given
    when already computed: it scans the array for the HU range); ``entry`` adds what only the
    headers tell (series number, slice thickness, file size)."""
    summary = summary if summary is not None else volume.summary()
    meta, series, extra = volume.meta, volume.series, volume.meta.extra
    d, h, w = volume.shape
    sk, sj, si = volume.spacing
    hu = summary.get("hu_range") or [None, None]
    scanner = " ".join(v for v in (extra.get("Manufacturer", ""), extra.get("ManufacturerModelName", "")) if v)
    sections: list[Section] = [
        ("Patient", [("Name", person_name(meta.patient_name)), ("ID", meta.patient_id),
                     ("Birth date", date_text(meta.birth_date)), ("Sex", meta.sex), ("Age", age_text(meta.age))]),
        ("Study", [("Date", " ".join(v for v in (date_text(meta.study_date), time_text(meta.study_time)) if v)),
                   ("Description", extra.get("StudyDescription", "") or (entry.study_description if entry else "")),
                   ("Body part", extra.get("BodyPartExamined", "")), ("Accession", meta.accession_number),
                   ("Institution", meta.institution),
                   ("Referring physician", person_name(meta.referring_physician)),
                   ("Study UID", meta.study_instance_uid)]),
        ("Series", [("Description", series.description),
                    ("Number", str(entry.summary.series_number)
                     if entry is not None and entry.summary.series_number is not None else ""),
                    ("Modality", series.modality), ("Images", str(series.slice_count or "")),
                    ("Scanner", scanner), ("Kernel", extra.get("ConvolutionKernel", "")),
                    ("kVp", extra.get("KVP", "")), ("Contrast", extra.get("ContrastBolusAgent", "")),
                    ("Series UID", series.series_instance_uid)]),
        ("Geometry", [("Voxels", f"{w} x {h} x {d} (columns x rows x slices)"),
                      ("Spacing", f"{number_text(si)} x {number_text(sj)} x {number_text(sk)} mm"),
                      ("Field of view", f"{w * si:.1f} x {h * sj:.1f} x {d * sk:.1f} mm"),
                      ("Slice thickness", f"{entry.thickness_text()} mm"
                       if entry is not None and entry.slice_thickness is not None else ""),
                      ("Orientation", _orientation_text(summary.get("orientation", volume.orientation_code()))),
                      ("Origin", "(" + ", ".join(f"{v:.1f}" for v in volume.origin) + ") mm LPS"),
                      ("HU range", f"{hu[0]:g} to {hu[1]:g}" if None not in hu else "")]),
        ("Format", [("Format", FORMAT_NAMES.get(series.source_format, series.source_format)),
                    ("Transfer syntax", series.transfer_syntax), ("Voxel type", f"{volume.array.dtype} HU")]),
        ("Source", [("Path", series.source_path or (entry.path if entry is not None else "")),
                    ("Files", str(len(entry.summary.files)) if entry is not None and entry.summary.files else ""),
                    ("Size", f"{entry.size_text()} MB" if entry is not None and entry.size_bytes is not None else ""),
                    *((f"Note {n}" if len(series.warnings) > 1 else "Note", w_)
                      for n, w_ in enumerate(series.warnings, 1))]),
    ]
    return [(title, [(label, str(value)) for label, value in rows if value]) for title, rows in sections]


def _orientation_text(code: str) -> str:
    return f"{code} (columns to the left, rows posterior, slices superior)" if code == "LPS" else code
