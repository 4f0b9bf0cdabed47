"""Find DICOM files and read their headers (never the pixel data), grouped by series.

A header read parses only :data:`HEADER_TAGS` and stops before Pixel Data, so scanning a
series costs one short read per file; the byte offset and declared length of Pixel Data are
recorded so the pixels can later be read in one ``readinto`` without parsing again.
Files pydicom cannot read as DICOM (also with ``force=True``, for files lacking the preamble
or the transfer syntax) are reported as :class:`NotDicomError`; a folder scan skips them.
"""

from __future__ import annotations

import os
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from ctrg_desktop.errors import NotDicomError, StudyReadError
from ctrg_desktop.io.progress import Reporter
from ctrg_desktop.io.volume import StudyMeta

#: StudyMeta field -> DICOM keyword (these are PHI: never logged).
PHI_KEYWORDS = {
    "patient_name": "PatientName",
    "patient_id": "PatientID",
    "birth_date": "PatientBirthDate",
    "sex": "PatientSex",
    "age": "PatientAge",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "accession_number": "AccessionNumber",
    "institution": "InstitutionName",
    "referring_physician": "ReferringPhysicianName",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
}
#: Study details kept in ``StudyMeta.extra`` (useful to a report, not identifying on their own).
EXTRA_KEYWORDS = ("StudyDescription", "BodyPartExamined", "Manufacturer", "ManufacturerModelName",
                  "ConvolutionKernel", "KVP", "ContrastBolusAgent")
_IMAGE_KEYWORDS = (
    "SpecificCharacterSet", "ImageType", "SOPClassUID", "SOPInstanceUID", "Modality",
    "SeriesNumber", "SeriesDescription", "InstanceNumber",
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
    "SpacingBetweenSlices", "GridFrameOffsetVector",
    "Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration",
    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "NumberOfFrames",
    "RescaleSlope", "RescaleIntercept", "PixelPaddingValue", "PixelPaddingRangeLimit",
    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
)
#: Every tag a header read keeps.
HEADER_TAGS = [tag_for_keyword(k) for k in (*_IMAGE_KEYWORDS, *PHI_KEYWORDS.values(), *EXTRA_KEYWORDS)]

_PIXEL_DATA_TAG = 0x7FE00010
_LONG_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT"}
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass
class DicomHeader:
    """One DICOM file's header elements (:data:`HEADER_TAGS`) and where its pixels lie."""

    path: str                 #: file on disk
    display: str              #: name shown to users (a zip member reads ``archive.zip!member``)
    ds: Dataset               #: the header elements, no Pixel Data
    file_size: int            #: bytes
    has_pixel_data: bool = False      #: a Pixel Data element is present
    pixel_offset: int | None = None   #: byte offset of its value (None for deflated files)
    pixel_length: int | None = None   #: its declared length in bytes; None when encapsulated

    @cached_property
    def transfer_syntax(self) -> UID | None:
        return self.ds.file_meta.get("TransferSyntaxUID") if hasattr(self.ds, "file_meta") else None

    @cached_property
    def series_uid(self) -> str:
        return text(self.ds, "SeriesInstanceUID")

    @cached_property
    def modality(self) -> str:
        return text(self.ds, "Modality").upper()

    @cached_property
    def size(self) -> tuple[int, int]:
        """(Rows, Columns); (0, 0) for files without an image."""
        return int(self.ds.get("Rows") or 0), int(self.ds.get("Columns") or 0)

    @cached_property
    def frames(self) -> int:
        """Number of frames (1 for a classic single-slice file)."""
        try:
            return max(int(self.ds.get("NumberOfFrames") or 1), 1)
        except (TypeError, ValueError):
            return 1

    @property
    def is_image(self) -> bool:
        return self.size[0] > 0 and self.size[1] > 0

    @cached_property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in text(self.ds, "ImageType").upper().split("\\")


@dataclass
class ScanResult:
    """Headers found by a scan and the files that were not DICOM."""

    headers: list[DicomHeader] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  #: display names of non-DICOM files

    def skipped_note(self) -> str:
        """A warning naming how many files were skipped (empty when none)."""
        if not self.skipped:
            return ""
        shown = ", ".join(Path(s).name for s in self.skipped[:3])
        more = ", ..." if len(self.skipped) > 3 else ""
        return f"{len(self.skipped)} non-DICOM file(s) skipped ({shown}{more})"


def text(ds: Dataset, keyword: str) -> str:
    """An element's value as a stripped string ('' when absent; multiple values joined by '\\')."""
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def read_header(path: str | os.PathLike, display: str | None = None) -> DicomHeader:
    """Read one file's header; raise :class:`NotDicomError` when it is not DICOM."""
    path = str(path)
    display = display or path
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = _parse(fp, display)
            header = DicomHeader(path, display, ds, size)
            if header.transfer_syntax == DeflatedExplicitVRLittleEndian:
                header.has_pixel_data = header.is_image  # offsets in a deflated stream are useless
            elif fp.tell() < size:
                _locate_pixels(fp, header)
    except OSError as exc:
        raise StudyReadError(f"{display} cannot be opened: {exc.strerror or exc}") from exc
    if "SeriesInstanceUID" not in ds and not header.is_image:
        raise NotDicomError(f"{display} is not a DICOM image file (no series or image elements)")
    return header


def _parse(fp, display: str) -> Dataset:
    try:
        try:
            return dcmread(fp, stop_before_pixels=True, specific_tags=HEADER_TAGS)
        except InvalidDicomError:  # no preamble / no file meta: try as a bare data set
            fp.seek(0)
            return dcmread(fp, stop_before_pixels=True, specific_tags=HEADER_TAGS, force=True)
    except Exception as exc:  # pydicom raises many types on garbage input
        raise NotDicomError(f"{display} is not a DICOM file ({type(exc).__name__})") from exc


def _locate_pixels(fp, header: DicomHeader) -> None:
    """Parse the element header at the file position where pydicom stopped (Pixel Data)."""
    implicit, little = header.ds.original_encoding
    if header.transfer_syntax == ExplicitVRBigEndian:
        little = False
    start = fp.tell()
    raw = fp.read(12)
    if len(raw) < 8:
        return
    endian = "<" if little else ">"
    group, elem = struct.unpack(endian + "HH", raw[:4])
    if (group << 16 | elem) != _PIXEL_DATA_TAG:
        return
    if implicit:
        length, value_at = struct.unpack(endian + "I", raw[4:8])[0], 8
    elif raw[4:6] in _LONG_VRS and len(raw) == 12:
        length, value_at = struct.unpack(endian + "I", raw[8:12])[0], 12
    else:
        length, value_at = struct.unpack(endian + "H", raw[6:8])[0], 8
    header.has_pixel_data = True
    header.pixel_offset = start + value_at
    header.pixel_length = None if length == _UNDEFINED_LENGTH else length


def list_files(folder: str | os.PathLike) -> list[tuple[str, str]]:
    """Every regular file under ``folder`` (recursive, sorted) as ``(path, display)`` pairs."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in sorted(files) if f.upper() != "DICOMDIR")
    return [(p, p) for p in found]


def extract_zip(archive: str | os.PathLike, dest: str | os.PathLike,
                reporter: Reporter | None = None) -> list[tuple[str, str]]:
    """Extract a zip's candidate members into ``dest``; ``(path, "archive.zip!member")`` pairs.

    Folders, ``__MACOSX/`` resource forks, ``._*`` AppleDouble files and DICOMDIR are left out.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [info for info in zf.infolist() if _is_candidate_member(info)]
            out = []
            for n, info in enumerate(members):
                if reporter is not None:
                    reporter(n, len(members), "extracting the zip archive")
                out.append((zf.extract(info, dest), f"{archive}!{info.filename}"))
            return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise StudyReadError(f"{archive} is not a readable zip archive ({exc})") from exc


def _is_candidate_member(info: zipfile.ZipInfo) -> bool:
    name = info.filename
    base = name.rsplit("/", 1)[-1]
    return not (info.is_dir() or name.startswith("__MACOSX/") or "/__MACOSX/" in name
                or base.startswith("._") or base.upper() == "DICOMDIR")


def scan(files: list[tuple[str, str]], reporter: Reporter | None = None) -> ScanResult:
    """Read the header of every ``(path, display)`` file; non-DICOM files are listed as skipped."""
    result = ScanResult()
    for n, (path, display) in enumerate(files):
        if reporter is not None:
            reporter(n, len(files), "reading DICOM headers")
        try:
            header = read_header(path, display)
        except NotDicomError:
            result.skipped.append(display)
            continue
        result.headers.append(header)
    return result


def group_series(headers: list[DicomHeader]) -> dict[str, list[DicomHeader]]:
    """Headers grouped by SeriesInstanceUID, in order of first appearance."""
    groups: dict[str, list[DicomHeader]] = {}
    for h in headers:
        groups.setdefault(h.series_uid, []).append(h)
    return groups


def study_meta(ds: Dataset) -> StudyMeta:
    """The identifiers (PHI) and a few study details from a header."""
    meta = StudyMeta(**{name: text(ds, kw) for name, kw in PHI_KEYWORDS.items()})
    meta.extra = {kw: text(ds, kw) for kw in EXTRA_KEYWORDS if text(ds, kw)}
    return meta
