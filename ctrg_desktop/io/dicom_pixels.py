"""Stored pixel values (before rescale) of DICOM frames, decoded into a caller's array.

* Native (uncompressed) data is read straight from the byte offset the header scan recorded:
  one ``readinto`` per frame, no second parse. Its length is checked first, so a file cut short
  raises :class:`TruncatedFileError`.
* Compressed (and deflated) files are decoded by pydicom's plugins (pylibjpeg: JPEG, JPEG-LS,
  JPEG 2000, RLE). When pydicom has no usable decoder, or fails, GDCM (inside SimpleITK) is
  tried; GDCM returns rescaled values, which are mapped back to stored values with the
  frame's slope/intercept. When neither can decode, :class:`StudyReadError` names the
  transfer syntax and the package to install.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import (UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         JPEG2000TransferSyntaxes, JPEGLSTransferSyntaxes, JPEGTransferSyntaxes,
                         RLELossless)

from ctrg_desktop.errors import StudyReadError, TruncatedFileError
from ctrg_desktop.io.dicom_scan import DicomHeader

_NATIVE = {ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian}
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def stored_dtype(header: DicomHeader) -> np.dtype:
    """The numpy type of the file's stored values (native byte order)."""
    samples = _integer(header, "SamplesPerPixel", 1)
    if samples != 1:
        raise StudyReadError(f"{header.display} is a colour image ({samples} samples per "
                             "pixel); CT volumes are grey-scale")
    bits = _integer(header, "BitsAllocated", 0)
    if bits not in (8, 16, 32):
        raise StudyReadError(f"{header.display} has {bits}-bit pixel data, which is not supported "
                             "(8, 16 or 32 bits are)")
    kind = "i" if _integer(header, "PixelRepresentation", 0) == 1 else "u"
    return np.dtype(f"{kind}{bits // 8}")


def _integer(header: DicomHeader, keyword: str, default: int) -> int:
    """An integer element of the header (``default`` when absent), else StudyReadError."""
    value = header.ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise StudyReadError(f"{header.display} has an invalid {keyword} ({value!r})") from None


def decoder_hint(syntax: UID) -> str:
    """The package that decodes ``syntax``, as advice for an error message."""
    if syntax in JPEGLSTransferSyntaxes:
        return "install pylibjpeg and pylibjpeg-libjpeg (or pyjpegls)"
    if syntax in JPEGTransferSyntaxes:
        return "install pylibjpeg and pylibjpeg-libjpeg"
    if syntax in JPEG2000TransferSyntaxes:
        return "install pylibjpeg and pylibjpeg-openjpeg"
    if syntax == RLELossless:
        return "install pylibjpeg and pylibjpeg-rle"
    return ("no Python decoder exists for it: convert the study to an uncompressed transfer "
            "syntax first (e.g. gdcmconv --raw or dcmdjpeg)")


def load_frames(header: DicomHeader, frames: list[int], out: np.ndarray, dest: list[int],
                rescale: list[tuple[float, float]]) -> None:
    """Decode the file's ``frames`` (0-based) into ``out[dest[n]]`` (shape ``(rows, cols)`` each).

    ``rescale`` holds each frame's ``(slope, intercept)``, used only to undo GDCM's rescaling.
    """
    if not header.has_pixel_data:
        raise TruncatedFileError(f"{header.display} ends before its pixel data (or has none)")
    syntax = header.transfer_syntax
    if header.pixel_offset is not None and header.pixel_length is not None and (
            syntax is None or syntax in _NATIVE):
        _read_native(header, frames, out, dest)
    elif syntax is None:
        raise StudyReadError(f"{header.display} has compressed pixel data but no transfer syntax")
    else:
        _decode(header, syntax, frames, out, dest, rescale)


def check_pixel_length(header: DicomHeader) -> None:
    """TruncatedFileError when the file has no pixel data, or native pixel data shorter than its
    header declares; checked before anything is allocated (compressed data is checked on decoding)."""
    if not header.has_pixel_data:
        raise TruncatedFileError(f"{header.display} ends before its pixel data (or has none)")
    syntax = header.transfer_syntax
    if header.pixel_offset is None or header.pixel_length is None or not (syntax is None or syntax in _NATIVE):
        return
    dtype = stored_dtype(header)
    rows, cols = header.size
    need = header.frames * rows * cols * dtype.itemsize
    have = min(header.pixel_length, header.file_size - header.pixel_offset)
    if have < need:
        raise TruncatedFileError(
            f"{header.display} is truncated: its pixel data holds {have} of the {need} bytes that "
            f"{header.frames} frame(s) of {rows} x {cols} at {dtype.itemsize * 8} bits need")


def _read_native(header: DicomHeader, frames: list[int], out: np.ndarray, dest: list[int]) -> None:
    check_pixel_length(header)
    dtype = stored_dtype(header)
    rows, cols = header.size
    file_dtype = dtype.newbyteorder(">" if header.transfer_syntax == ExplicitVRBigEndian else "<")
    frame_bytes = rows * cols * dtype.itemsize
    with open(header.path, "rb") as fp:
        for f, d in zip(frames, dest):
            fp.seek(header.pixel_offset + f * frame_bytes)
            target = out[d]
            if target.dtype == file_dtype and target.flags.c_contiguous:
                fp.readinto(memoryview(target).cast("B"))
            else:
                target[...] = np.frombuffer(fp.read(frame_bytes), file_dtype).reshape(rows, cols)


def _decode(header: DicomHeader, syntax: UID, frames: list[int], out: np.ndarray, dest: list[int],
            rescale: list[tuple[float, float]]) -> None:
    try:
        usable = get_decoder(syntax).is_available
    except NotImplementedError:
        usable = False
    problem = f"no installed decoder handles {syntax.name} ({syntax}); {decoder_hint(syntax)}"
    if usable:
        try:
            data = pixel_array(header.path)
        except Exception as exc:  # decoders raise many types on bad streams
            problem = f"its {syntax.name} pixel data cannot be decoded ({' '.join(str(exc).split())})"
        else:
            data = _as_frames(header, data)
            for f, d in zip(frames, dest):
                out[d] = data[f]
            return
    if header.pixel_length is None and not _ends_with_delimiter(header.path):
        raise TruncatedFileError(f"{header.display} is truncated: its compressed pixel data ends early")
    try:
        data = sitk.GetArrayFromImage(sitk.ReadImage(header.path))
    except RuntimeError:
        raise StudyReadError(f"{header.display}: {problem}") from None
    data = _as_frames(header, data)
    for f, d, (slope, intercept) in zip(frames, dest, rescale):
        out[d] = np.rint((data[f] - intercept) / slope)


def _as_frames(header: DicomHeader, data: np.ndarray) -> np.ndarray:
    """Decoded pixels as ``(frames, rows, cols)``, or StudyReadError when the count is wrong."""
    shape = (header.frames, *header.size)
    if data.size != np.prod(shape):
        raise StudyReadError(f"{header.display} decodes to {data.size} pixels, not the "
                             f"{' x '.join(map(str, shape))} its header announces")
    return data.reshape(shape)


def _ends_with_delimiter(path: str) -> bool:
    with open(path, "rb") as fp:
        fp.seek(0, 2)
        fp.seek(max(fp.tell() - 8, 0))
        return fp.read(8) == _SEQUENCE_DELIMITER
