"""Headers of NIfTI, MetaImage and NRRD files, read here before SimpleITK decodes the voxels.

ITK fills the voxels a truncated ``.nii``/``.nii.gz`` lacks with zeros and reads a negative
MetaImage ``ElementSpacing`` as positive without a word. :func:`inspect_image` parses the
header itself (NIfTI-1/-2, MetaImage ``.mha``/``.mhd``, NRRD ``.nrrd``/``.nhdr``) to learn where
the voxel data lies and how many bytes it must hold; :func:`check_data_complete` then refuses a
file whose data ends early (for gzip data by counting the decompressed bytes, stopping as soon
as enough are there; a complete ``.nii.gz`` is recognised from its gzip size field without
decompressing; compressed data declaring over ``CTRG_MAX_ZIP_RATIO`` times their size, when over
64 MiB, are refused before any is inflated). Layouts it does not understand (ASCII data, detached file lists, bzip2, ...)
are left to SimpleITK.
"""

from __future__ import annotations

import math
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ctrg_desktop.errors import StudyReadError, TruncatedFileError
from ctrg_desktop.io.safety import check_compression_ratio, check_spacing

_HEAD_BYTES = 65536   # text headers (MetaImage, NRRD) must fit in this
_CHUNK = 4 << 20      # decompression step when counting gzip data

#: NIfTI datatype code -> bytes per voxel
_NIFTI_BYTES = {2: 1, 4: 2, 8: 4, 16: 4, 32: 8, 64: 8, 128: 3, 256: 1, 512: 2, 768: 4, 1024: 8,
                1280: 8, 1536: 16, 1792: 16, 2048: 32, 2304: 4}
#: MetaImage ElementType -> bytes per component
_MET_BYTES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4,
              "MET_UINT": 4, "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8,
              "MET_ULONG_LONG": 8, "MET_FLOAT": 4, "MET_DOUBLE": 8}
#: NRRD type (lower case, single spaces) -> bytes per voxel
_NRRD_BYTES = {
    **dict.fromkeys(("signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8", "uint8_t"), 1),
    **dict.fromkeys(("short", "short int", "signed short", "signed short int", "int16", "int16_t",
                     "ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), 2),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32",
                     "uint32_t", "float"), 4),
    **dict.fromkeys(("longlong", "long long", "long long int", "signed long long",
                     "signed long long int", "int64", "int64_t", "ulonglong", "unsigned long long",
                     "unsigned long long int", "uint64", "uint64_t", "double"), 8),
}


@dataclass
class DataLayout:
    """Where a file's voxel data lies and how many bytes the header says it holds."""

    data_path: Path           #: the file holding the data
    offset: int               #: byte offset of the data (in the decompressed stream for "gzip-file")
    nbytes: int               #: bytes of voxel data the header declares
    encoding: str             #: "raw", "gzip-file" (whole file gzipped), "gzip" (data part), "zlib"
    compressed_bytes: int | None = None  #: MetaImage CompressedDataSize (None: to the end)
    warnings: list[str] = field(default_factory=list)


def inspect_image(path: Path, image_format: str) -> DataLayout | None:
    """The data layout declared by ``path``'s header (None when not understood); header repairs
    go to ``layout.warnings``; an invalid MetaImage spacing raises :class:`StudyReadError`."""
    try:
        if image_format == "nifti":
            return _nifti(path)
        if image_format == "metaimage":
            return _metaimage(path)
        if image_format == "nrrd":
            return _nrrd(path)
    except OSError as exc:
        raise StudyReadError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    return None


def check_data_complete(path: Path, layout: DataLayout) -> None:
    """TruncatedFileError when the data ends before the ``layout.nbytes`` its header declares;
    StudyReadError when compressed data declare too many times their size (a decompression bomb),
    checked before anything is inflated."""
    name = str(path)
    try:
        size = os.path.getsize(layout.data_path)
    except OSError as exc:
        raise StudyReadError(f"{name}: its data file {layout.data_path} cannot be read "
                             f"({exc.strerror or exc})") from exc
    if layout.encoding == "gzip-file":  # the whole file is compressed, the header included
        check_compression_ratio(layout.offset + layout.nbytes, size, name)
    elif layout.encoding in ("gzip", "zlib"):
        compressed = max(size - layout.offset, 0)
        if layout.compressed_bytes is not None:
            compressed = min(compressed, layout.compressed_bytes)
        check_compression_ratio(layout.nbytes, compressed, name)
    if layout.encoding == "raw":
        have = max(size - layout.offset, 0)
        if have < layout.nbytes:
            raise TruncatedFileError(f"{name} is truncated: its header declares {layout.nbytes} bytes "
                                     f"of voxel data, the file holds {have}")
    elif layout.encoding == "zlib":
        have = max(size - layout.offset, 0)
        if layout.compressed_bytes is not None and have < layout.compressed_bytes:
            raise TruncatedFileError(f"{name} is truncated: its header declares {layout.compressed_bytes} "
                                     f"bytes of compressed voxel data, the file holds {have}")
        try:
            out = _gunzip(layout.data_path, layout.offset, layout.nbytes, wbits=zlib.MAX_WBITS | 32,
                          stop=None if layout.compressed_bytes is None else layout.offset + layout.compressed_bytes)[0]
        except zlib.error as exc:
            raise StudyReadError(f"{name} has damaged compressed data ({exc})") from exc
        if out < layout.nbytes:
            raise TruncatedFileError(f"{name} is truncated or damaged: its compressed voxel data "
                                     f"inflate to {out} bytes, its header declares {layout.nbytes}")
    elif layout.encoding == "gzip-file":
        need = layout.offset + layout.nbytes
        if not _gzip_size_field_is(layout.data_path, need):
            have = _gzip_count(layout.data_path, 0, need, name)
            if have < need:
                raise TruncatedFileError(
                    f"{name} is truncated: it decompresses to {have} bytes, but its header declares "
                    f"{layout.nbytes} bytes of voxel data from byte {layout.offset} ({need} in all)")
    elif layout.encoding == "gzip":
        have = _gzip_count(layout.data_path, layout.offset, layout.nbytes, name)
        if have < layout.nbytes:
            raise TruncatedFileError(f"{name} is truncated: its voxel data decompresses to {have} "
                                     f"bytes, its header declares {layout.nbytes}")


def _gzip_size_field_is(path: Path, expected: int) -> bool:
    """True when the gzip trailer's size field (size mod 2**32) equals ``expected``."""
    with open(path, "rb") as fp:
        fp.seek(0, os.SEEK_END)
        if fp.tell() < 18:
            return False
        fp.seek(-4, os.SEEK_END)
        return struct.unpack("<I", fp.read(4))[0] == expected % (1 << 32)


def _gzip_count(path: Path, offset: int, limit: int, name: str) -> int:
    """Bytes the gzip data at ``offset`` of ``path`` decompresses to, counted up to ``limit``."""
    try:
        return _gunzip(path, offset, limit)[0]
    except zlib.error as exc:
        raise StudyReadError(f"{name} has damaged compressed data ({exc})") from exc


def _gunzip(path: Path, offset: int, limit: int, keep: int = 0, wbits: int = zlib.MAX_WBITS | 16,
            stop: int | None = None) -> tuple[int, bytes]:
    """(bytes the gzip members from ``offset`` (to ``stop``) decompress to, counted up to ``limit``;
    the first ``keep`` of them). A stream that ends early or turns to garbage ends the count
    there; zlib.error only when not even the first member starts. ``wbits`` as for zlib."""
    total, head = 0, bytearray()
    with open(path, "rb") as raw:
        raw.seek(offset)
        left = [float("inf") if stop is None else stop - offset]

        def read() -> bytes:
            chunk = raw.read(int(min(_CHUNK, left[0])))
            left[0] -= len(chunk)
            return chunk

        inflate = zlib.decompressobj(wbits)
        data = read()
        while data and total < limit:
            try:
                out = inflate.decompress(data, limit - total)
            except zlib.error:
                if total == 0:
                    raise
                break
            total += len(out)
            if len(head) < keep:
                head += out[:keep - len(head)]
            if inflate.unconsumed_tail:
                data = inflate.unconsumed_tail
            elif inflate.eof:  # the end of one gzip member: another may follow
                data = inflate.unused_data or read()
                inflate = zlib.decompressobj(wbits)
            else:
                data = read()
    return total, bytes(head)


# --- NIfTI -------------------------------------------------------------------------------------

def _nifti(path: Path) -> DataLayout | None:
    gzipped = path.name.lower().endswith(".gz")
    try:
        if gzipped:
            head = _gunzip(path, 0, 544, keep=544)[1]
        else:
            with open(path, "rb") as fp:
                head = fp.read(544)
    except zlib.error:
        return None  # not gzip data: SimpleITK reports it
    found = _nifti_header(head, str(path))
    if found is None:
        return None
    offset, nbytes = found
    return DataLayout(path, offset, nbytes, "gzip-file" if gzipped else "raw")


def _nifti_header(head: bytes, name: str) -> tuple[int, int] | None:
    """(data offset, data bytes) of a single-file NIfTI-1/-2 header; None when it is not one.

    StudyReadError for the header values the NIfTI library would only complain about on
    stderr: dim[0] outside 1-7, a dimension below 1, an unknown datatype, and a non-finite
    sform matrix in use (sform_code > 0).
    """
    if len(head) < 348:
        return None
    for endian in "<>":
        sizeof_hdr = struct.unpack_from(endian + "i", head, 0)[0]
        if sizeof_hdr == 348 and head[344:348] == b"n+1\x00":
            dims = struct.unpack_from(endian + "8h", head, 40)
            datatype = struct.unpack_from(endian + "h", head, 70)[0]
            vox_offset, minimum = struct.unpack_from(endian + "f", head, 108)[0], 352
            sform_code = struct.unpack_from(endian + "h", head, 254)[0]
            srow = struct.unpack_from(endian + "12f", head, 280)
            break
        if sizeof_hdr == 540 and len(head) >= 540 and head[4:7] == b"n+2":
            datatype = struct.unpack_from(endian + "h", head, 12)[0]
            dims = struct.unpack_from(endian + "8q", head, 16)
            vox_offset, minimum = struct.unpack_from(endian + "q", head, 168)[0], 544
            sform_code = struct.unpack_from(endian + "i", head, 348)[0]
            srow = struct.unpack_from(endian + "12d", head, 400)
            break
    else:
        return None
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise StudyReadError(f"{name} has an invalid NIfTI header: dim[0] = {ndim} (1 to 7 dimensions)")
    if any(d <= 0 for d in dims[1:ndim + 1]):
        raise StudyReadError(f"{name} has an invalid NIfTI header: image size "
                             f"{' x '.join(map(str, dims[1:ndim + 1]))}")
    per_voxel = _NIFTI_BYTES.get(datatype)
    if per_voxel is None:
        raise StudyReadError(f"{name} has an invalid NIfTI header: unknown datatype {datatype}")
    if sform_code > 0 and not all(math.isfinite(v) for v in srow):
        raise StudyReadError(f"{name} has an invalid NIfTI header: its sform matrix (srow_x/y/z), "
                             "which places the voxels, holds values that are not finite numbers")
    if not math.isfinite(vox_offset):
        return None
    return max(int(vox_offset), minimum), math.prod(dims[1:ndim + 1]) * per_voxel


# --- MetaImage ---------------------------------------------------------------------------------

def _metaimage(path: Path) -> DataLayout | None:
    """Layout of a MetaImage; StudyReadError for what MetaIO would only complain about on stderr
    (required fields missing, an invalid spacing or CompressedDataSize, undecodable data)."""
    with open(path, "rb") as fp:
        head = fp.read(_HEAD_BYTES)
    fields: dict[str, str] = {}
    end = None
    position = 0
    for line in head.splitlines(keepends=True):  # the data follows the ElementDataFile line
        position += len(line)
        key, _, value = line.decode("latin-1").partition("=")
        key = key.strip().lower()
        fields[key] = value.strip()
        if key == "elementdatafile":
            end = position
            break
    if end is None:
        if not head.lstrip().lower().startswith((b"objecttype", b"ndims", b"comment")):
            return None  # not a MetaImage header at all: SimpleITK says so
        raise StudyReadError(f"{path} is not a complete MetaImage header: it has no ElementDataFile line")
    for key, label in (("ndims", "NDims"), ("dimsize", "DimSize"), ("elementtype", "ElementType")):
        if not fields.get(key):
            raise StudyReadError(f"{path} is not a complete MetaImage header: {label} is missing "
                                 "before the ElementDataFile line")
    ndims = _numbers(fields["ndims"])
    if not ndims or len(ndims) != 1 or len(fields["dimsize"].split()) != ndims[0]:
        raise StudyReadError(f"{path} has an invalid MetaImage header: NDims = {fields['ndims']} but "
                             f"DimSize = {fields['dimsize']}")
    if "compresseddatasize" in fields and not _numbers(fields["compresseddatasize"]):
        raise StudyReadError(f"{path} has an invalid CompressedDataSize ({fields['compresseddatasize']}) "
                             "in its header")
    warnings: list[str] = []
    for key, label in (("elementspacing", "ElementSpacing"), ("elementsize", "ElementSize")):
        spacing = _numbers(fields.get(key, ""))
        if spacing is None:
            continue
        if len(spacing) != ndims[0]:
            raise StudyReadError(f"{path} has an invalid MetaImage header: NDims = {fields['ndims']} but "
                                 f"{label} = {fields[key]}")
        if not all(math.isfinite(s) and s != 0 for s in spacing):
            check_spacing(spacing, str(path), f"{label} in its header")
        if any(s < 0 for s in spacing):
            shown = ", ".join(f"{s:g}" for s in spacing)
            warnings.append(f"negative {label} in the header ({shown} mm): read as the spacing "
                            f"{', '.join(f'{abs(s):g}' for s in spacing)} mm with the axis direction reversed")
        break
    dims = _numbers(fields.get("dimsize", ""))
    per_voxel = _MET_BYTES.get(fields.get("elementtype", "").upper().removesuffix("_ARRAY"))
    channels = _numbers(fields.get("elementnumberofchannels", "1"))
    if not dims or per_voxel is None or not channels or any(d <= 0 or d != int(d) for d in dims) \
            or fields.get("binarydata", "true").lower() != "true" or fields.get("headersize", "0") != "0":
        return _layout_or_none(None, warnings, path)
    nbytes = math.prod(int(d) for d in dims) * per_voxel * max(int(channels[0]), 1)
    data_file = fields["elementdatafile"]
    if data_file.upper() == "LOCAL":
        data_path, offset = path, end
    elif data_file and " " not in data_file and "%" not in data_file and data_file.upper() != "LIST":
        data_path, offset = path.parent / data_file, 0
        if not data_path.is_file():
            raise StudyReadError(f"{path} names the data file {data_file}, which is not next to it")
    else:
        return _layout_or_none(None, warnings, path)
    if fields.get("compresseddata", "false").lower() == "true":
        size = None
        if "compresseddatasize" in fields:
            size = _numbers(fields["compresseddatasize"])
            if not size or size[0] < 1 or size[0] != int(size[0]):
                raise StudyReadError(f"{path} has an invalid CompressedDataSize "
                                     f"({fields['compresseddatasize']}) in its header")
        layout = DataLayout(data_path, offset, nbytes, "zlib", compressed_bytes=int(size[0]) if size else None)
    else:
        layout = DataLayout(data_path, offset, nbytes, "raw")
    layout.warnings = warnings
    return layout


def _layout_or_none(layout: DataLayout | None, warnings: list[str], path: Path) -> DataLayout | None:
    """A layout-less result that still carries the header's warnings."""
    if layout is None and warnings:
        return DataLayout(path, 0, 0, "unknown", warnings=warnings)
    return layout


def _numbers(text: str) -> list[float] | None:
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        return None
    return values or None


# --- NRRD --------------------------------------------------------------------------------------

def _nrrd(path: Path) -> DataLayout | None:
    with open(path, "rb") as fp:
        head = fp.read(_HEAD_BYTES)
    if not head.startswith(b"NRRD"):
        return None
    match = re.search(rb"\r?\n\r?\n", head)
    if match is None:
        return None
    fields: dict[str, str] = {}
    for line in head[:match.start()].decode("latin-1").splitlines()[1:]:
        if line.startswith("#") or ":=" in line:
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields[" ".join(key.lower().split())] = value.strip()
    if any(k in fields for k in ("data file", "datafile")):
        return None  # detached data (.nhdr): SimpleITK checks it
    if any(fields.get(k, "0") not in ("0", "") for k in ("line skip", "lineskip", "byte skip", "byteskip")):
        return None
    per_voxel = _NRRD_BYTES.get(" ".join(fields.get("type", "").lower().split()))
    sizes = _numbers(fields.get("sizes", ""))
    if per_voxel is None or not sizes or any(s <= 0 or s != int(s) for s in sizes):
        return None
    nbytes = math.prod(int(s) for s in sizes) * per_voxel
    encoding = fields.get("encoding", "").lower()
    if encoding == "raw":
        return DataLayout(path, match.end(), nbytes, "raw")
    if encoding in ("gzip", "gz"):
        return DataLayout(path, match.end(), nbytes, "gzip")
    return None
