"""Find DICOM files and read their headers (never the pixel data), grouped by series.

A header read parses only :data:`HEADER_TAGS` and stops before Pixel Data, so scanning a
series costs one short read per file; the byte offset and declared length of Pixel Data are
recorded so the pixels can later be read in one ``readinto`` without parsing again.

What is DICOM is decided from the first bytes, before pydicom parses anything (so a large
file of something else costs one short read): a file with the Part 10 preamble (``DICM`` at
byte 128), or one starting like a bare data set (an element of an even group 0002-0028).
Anything else, and bare data sets pydicom cannot parse, are :class:`NotDicomError`; a folder
scan skips them. A file *with* the preamble whose header cannot be parsed, or ends inside an
element or before any series/image element, is :class:`TruncatedFileError`: the series is
refused rather than read with a slice missing. A deflated data set is measured (streamed)
before pydicom inflates it, against ``CTRG_MAX_VOLUME_MB``.

Folders are listed by :func:`list_files`, which keeps regular files only: named pipes, devices,
sockets and broken or looping symbolic links are skipped and reported.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.filereader import read_partial
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from ctrg_desktop.errors import NotDicomError, StudyReadError, TruncatedFileError
from ctrg_desktop.io.progress import Reporter
from ctrg_desktop.io.safety import MAX_VOLUME_ENV, MIB, max_volume_bytes
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
_HEADER_TAGS = [Tag(t) for t in HEADER_TAGS]

_PIXEL_DATA_TAG = 0x7FE00010
_PIXEL_TAGS = {0x7FE00010, 0x7FE00009, 0x7FE00008}  # (float/double) pixel data: the header ends
_SNIFF_BYTES = 4096
_MAX_ELEMENTS = 10000  # top-level elements before Pixel Data; real headers have a few hundred
_DEFLATED_UID = DeflatedExplicitVRLittleEndian.encode("ascii")
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
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
    member: object = field(default=None, repr=False)  #: the ``zipfile.ZipInfo`` of a zip member

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
        """(Rows, Columns); (0, 0) for files without an image (or with unreadable values)."""
        try:
            return int(self.ds.get("Rows") or 0), int(self.ds.get("Columns") or 0)
        except (TypeError, ValueError):  # e.g. a damaged header giving several values
            return 0, 0

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
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise StudyReadError(f"{display} is not a regular file ({_kind_of(info.st_mode)})")
        with open(path, "rb") as fp:
            return read_header_from(fp, info.st_size, path, display)
    except OSError as exc:
        raise StudyReadError(f"{display} cannot be opened: {exc.strerror or exc}") from exc


def read_header_from(fp: BinaryIO, size: int, path: str, display: str) -> DicomHeader:
    """Read the header of the DICOM file open as ``fp`` (``size`` bytes; a file or zip member)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds, preamble = _parse(fp, size, display)
        header = DicomHeader(path, display, ds, size)
        if header.transfer_syntax == DeflatedExplicitVRLittleEndian:
            header.has_pixel_data = header.is_image  # offsets in a deflated stream are useless
        elif fp.tell() < size:
            _locate_pixels(fp, header)
    if "SeriesInstanceUID" not in ds and not header.is_image:
        media_class = str(ds.file_meta.get("MediaStorageSOPClassUID", "")) if hasattr(ds, "file_meta") else ""
        if preamble and media_class != _DICOMDIR_CLASS:
            raise TruncatedFileError(f"{display} is truncated or damaged: it starts as a DICOM file, but "
                                     "its header ends before any series or image element")
        raise NotDicomError(f"{display} is not a DICOM image file (no series or image elements)")
    return header


def _sniff(head: bytes) -> str | None:
    """"preamble" (Part 10 file), "bare" (may be a data set without preamble) or None (not DICOM)."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "preamble"
    if len(head) < 8:
        return None
    groups = (int.from_bytes(head[:2], "little"), int.from_bytes(head[:2], "big"))
    return "bare" if any(0x0002 <= g <= 0x0028 and g % 2 == 0 for g in groups) else None


def _parse(fp: BinaryIO, size: int, display: str) -> tuple[Dataset, bool]:
    """The header elements of ``fp`` and whether it has the preamble (module docstring)."""
    head = fp.read(_SNIFF_BYTES)
    fp.seek(0)
    kind = _sniff(head)
    if kind is None:
        raise NotDicomError(f"{display} is not a DICOM file (it starts with neither a DICOM preamble "
                            "nor a data element)")
    preamble = kind == "preamble"
    if preamble and head[132:134] == b"\x00\x00":  # group 0000 (a network command) in a file
        raise TruncatedFileError(f"{display} is truncated or damaged: it starts as a DICOM file, but "
                                 "no file meta information follows the preamble")
    if preamble and _DEFLATED_UID in head:
        _check_inflated_size(fp, display)
    cut: list[tuple[int, int, int]] = []
    own_stream: list[bool] = []
    seen = [0, -1]  # top-level elements so far, the last tag

    def stop(tag, vr, length) -> bool:
        if tag in _PIXEL_TAGS:
            return True
        seen[0] += 1
        if seen[0] > _MAX_ELEMENTS or tag == seen[1]:  # garbage repeating an element
            cut.append((int(tag), -1, length))
            return True
        seen[1] = tag
        position = fp.tell()
        if not own_stream:  # a deflated data set is parsed from an inflated copy, not from fp
            own_stream.append(position < size)
        if own_stream[0] and length != 0xFFFFFFFF and position + length > size:
            cut.append((int(tag), position, length))
            return True
        return False

    try:
        ds = read_partial(fp, stop, force=not preamble, specific_tags=_HEADER_TAGS)
    except Exception as exc:  # pydicom raises many types on garbage input
        if preamble:
            raise TruncatedFileError(f"{display} is truncated or damaged: it starts as a DICOM file, but "
                                     f"its header cannot be read ({type(exc).__name__})") from exc
        raise NotDicomError(f"{display} is not a DICOM file ({type(exc).__name__})") from exc
    if cut:
        tag, position, length = cut[0]
        if not preamble:
            raise NotDicomError(f"{display} is not a DICOM file (its elements make no sense)")
        if position < 0:
            raise TruncatedFileError(f"{display} is damaged: its header repeats element "
                                     f"({tag >> 16:04X},{tag & 0xFFFF:04X}) or holds over {_MAX_ELEMENTS} elements")
        raise TruncatedFileError(f"{display} is truncated: it ends inside its header (element "
                                 f"({tag >> 16:04X},{tag & 0xFFFF:04X}) at byte {position} needs {length} "
                                 f"bytes, the file has {size})")
    return ds, preamble


def _check_inflated_size(fp: BinaryIO, display: str) -> None:
    """StudyReadError when a deflated data set inflates beyond the volume limit (streamed, bounded)."""
    fp.seek(132)
    element = fp.read(12)
    if len(element) < 12 or element[:6] != b"\x02\x00\x00\x00UL":
        fp.seek(0)
        return  # no group length: pydicom decides
    fp.seek(144 + int.from_bytes(element[8:12], "little"))
    limit = max_volume_bytes() + 16 * MIB  # voxels plus a header
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        while not inflate.eof and (chunk := fp.read(MIB)):
            while chunk and total <= limit:
                total += len(inflate.decompress(chunk, limit + 1 - total))
                chunk = inflate.unconsumed_tail
            if total > limit:
                raise StudyReadError(f"{display}: its deflated data set inflates to over "
                                     f"{limit // MIB} MiB ({MAX_VOLUME_ENV} raises the limit)")
    except zlib.error as exc:
        raise TruncatedFileError(f"{display} is truncated or damaged: its deflated data set cannot "
                                 f"be inflated ({exc})") from exc
    fp.seek(0)


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


def list_files(folder: str | os.PathLike, skipped: list[str] | None = None) -> list[tuple[str, str]]:
    """Every regular file under ``folder`` (recursive, sorted) as ``(path, display)`` pairs.

    Named pipes, devices, sockets and broken or looping symbolic links are left out (reading
    them would block, never end, or fail); each is described in ``skipped`` when given.
    """
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.upper() == "DICOMDIR":
                continue
            path = os.path.join(root, name)
            problem = _not_regular(path)
            if problem is None:
                found.append(path)
            elif skipped is not None:
                skipped.append(f"{path} ({problem})")
    return [(p, p) for p in found]


def _not_regular(path: str) -> str | None:
    """Why ``path`` is not a readable regular file (following links), or None when it is one."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if os.path.islink(path):
            return "a symbolic link that loops" if exc.errno == errno.ELOOP else "a broken symbolic link"
        return f"cannot be read: {exc.strerror or exc}"
    return None if stat.S_ISREG(mode) else _kind_of(mode)


def _kind_of(mode: int) -> str:
    """A name for what a non-regular file is."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


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
