"""Worker process of ``test_fuzz_headers.py``: mutate small studies and read each, one JSON line per case.

``python fuzz_worker.py WORK_DIR FIRST STOP`` builds the base studies in ``WORK_DIR/base``, then
for each case ``FIRST <= i < STOP`` of :data:`CASES` writes the mutated study to
``WORK_DIR/caseNNNN``, calls ``list_series`` and ``read_study`` on it and prints
``{"start": i}`` then ``{"case": i, "outcome": ...}``. Outcomes: ``ok`` (a finite volume whose
summary is strict JSON), ``error`` (a :class:`CtrgError` whose message names the case's path),
``bad`` (anything else, with the traceback). The address space is capped (``RLIMIT_AS``) and
each case gets ``SIGALRM`` after :data:`CASE_SECONDS`, which kills the worker; the test sees
the ``start`` without an outcome and reports that case as hung.

Everything is deterministic: the case list is a pure function of this file.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
import shutil
import signal
import struct
import sys
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

CASE_SECONDS = 10
MEMORY_BYTES = 2 << 30
SEED = 20240611
_PLACEHOLDER = "987654321"

# --- the case list (pure data) -----------------------------------------------------------------

_I16 = [0, 1, -1, 2, 3, 4, 7, 8, 32767, -32768]
_F32 = [0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e30, 1e-30, 3.0e38]
#: NIfTI-1 header fields: name -> (offset, struct format)
_NIFTI_FIELDS = {
    "dim0": (40, "h"), "dim1": (42, "h"), "dim2": (44, "h"), "dim3": (46, "h"), "dim4": (48, "h"),
    "datatype": (70, "h"), "bitpix": (72, "h"), "qform_code": (252, "h"), "sform_code": (254, "h"),
    "pixdim0": (76, "f"), "pixdim1": (80, "f"), "pixdim2": (84, "f"), "pixdim3": (88, "f"),
    "vox_offset": (108, "f"), "scl_slope": (112, "f"), "scl_inter": (116, "f"),
    "quatern_b": (256, "f"), "quatern_c": (260, "f"), "quatern_d": (264, "f"), "qoffset_x": (268, "f"),
    "srow_x0": (280, "f"), "srow_x3": (292, "f"), "srow_z2": (320, "f"),
}
#: DICOM elements set to extreme values: (keyword, value, all files?)
_DICOM_FIELDS = [
    ("Rows", 0, False), ("Rows", 1, False), ("Rows", 7, False), ("Rows", 65535, False),
    ("Columns", 0, False), ("Columns", 65535, False), ("Rows+Columns", 65535, True),
    ("Rows+Columns", 40000, True), ("BitsAllocated", 0, False), ("BitsAllocated", 1, False),
    ("BitsAllocated", 8, False), ("BitsAllocated", 12, False), ("BitsAllocated", 32, True),
    ("BitsAllocated", 64, False), ("BitsStored", 0, False), ("HighBit", 99, False),
    ("PixelRepresentation", 1, True), ("PixelRepresentation", 2, False), ("SamplesPerPixel", 0, False),
    ("SamplesPerPixel", 3, False), ("PhotometricInterpretation", "RGB", False),
    ("NumberOfFrames", "0", False), ("NumberOfFrames", "-1", False), ("NumberOfFrames", "2", False),
    ("NumberOfFrames", "100000", False), ("NumberOfFrames", "100000000", False),
    ("NumberOfFrames", "raw:abc", False), ("PixelSpacing", ["0", "0"], False),
    ("PixelSpacing", ["nan", "1"], False), ("PixelSpacing", ["-1", "1"], True),
    ("PixelSpacing", ["1e308", "1e308"], True), ("PixelSpacing", ["1"], False),
    ("PixelSpacing", ["1e-300", "1e-300"], True), ("ImagePositionPatient", ["nan", "0", "0"], False),
    ("ImagePositionPatient", ["1e308", "0", "0"], False), ("ImagePositionPatient", ["0", "0"], False),
    ("ImagePositionPatient", ["0", "0", "1e308"], False), ("ImagePositionPatient", ["0", "0", "0"], True),
    ("ImageOrientationPatient", ["0"] * 6, False), ("ImageOrientationPatient", ["1", "0", "0", "1", "0", "0"], True),
    ("ImageOrientationPatient", ["nan"] * 6, False), ("ImageOrientationPatient", ["1", "0", "0", "0", "1"], False),
    ("ImageOrientationPatient", ["1e308", "0", "0", "0", "1", "0"], False),
    ("RescaleSlope", "nan", False), ("RescaleSlope", "inf", False), ("RescaleSlope", "0", True),
    ("RescaleSlope", "-1", True), ("RescaleSlope", "1e300", False), ("RescaleSlope", "1e-300", True),
    ("RescaleSlope", "raw:abc", False), ("RescaleIntercept", "-inf", False), ("RescaleIntercept", "1e300", False),
    ("RescaleIntercept", "nan", True), ("RescaleIntercept", "1e30", True), ("PixelPaddingValue", 0, True),
    ("Modality", "MR", False), ("Modality", "", True), ("SeriesInstanceUID", "", False),
    ("SOPClassUID", "1.2.3", False), ("ImageType", ["ORIGINAL", "PRIMARY", "LOCALIZER"], False),
    ("SpecificCharacterSet", "ISO_IR 999", False), ("SpecificCharacterSet", "ISO 2022 IR 87", True),
    ("TransferSyntax", "1.2.840.10008.1.2.2", False), ("TransferSyntax", "1.2.840.10008.1.2.5", False),
    ("TransferSyntax", "1.2.840.10008.1.2.9", True), ("TransferSyntax", "1.2.840.10008.1.2.0", False),
]
#: MetaImage header lines replaced: (key, new value or None to drop the line)
_MHA_FIELDS = [
    ("NDims", "2"), ("NDims", "4"), ("NDims", "0"), ("DimSize", "0 5 6"), ("DimSize", "-1 5 6"),
    ("DimSize", "99999 99999 99999"), ("DimSize", "6 5"), ("DimSize", "6 5 7 3"), ("ElementType", "MET_FOO"),
    ("ElementType", "MET_DOUBLE"), ("ElementType", "MET_UCHAR"), ("ElementSpacing", "0 0 0"),
    ("ElementSpacing", "-1 -1 -1"), ("ElementSpacing", "nan 1 1"), ("ElementSpacing", "1e308 1 1"),
    ("ElementSpacing", "1"), ("ElementNumberOfChannels", "3"), ("ElementNumberOfChannels", "0"),
    ("CompressedData", "True"), ("TransformMatrix", "0 0 0 0 0 0 0 0 0"), ("TransformMatrix", "nan 0 0 0 1 0 0 0 1"),
    ("Offset", "nan 0 0"), ("Offset", "1e308 0 0"), ("ElementDataFile", "missing.raw"),
    ("ElementDataFile", "LIST"), ("ElementDataFile", ""), ("HeaderSize", "-1"), ("HeaderSize", "100000"),
    ("BinaryDataByteOrderMSB", "True"), ("BinaryData", "False"), ("ElementSpacing", None), ("DimSize", None),
]
_NRRD_FIELDS = [
    ("sizes", "0 5 6"), ("sizes", "99999 99999 99999"), ("sizes", "6 5"), ("type", "foo"), ("type", "double"),
    ("encoding", "gzip"), ("encoding", "bzip2"), ("encoding", "ascii"), ("dimension", "2"), ("dimension", "9"),
    ("space directions", "(0,0,0) (0,1,0) (0,0,1)"), ("space directions", "(nan,0,0) (0,1,0) (0,0,1)"),
    ("space directions", "(1,0,0) (1,0,0) (0,0,1)"), ("space origin", "(nan,0,0)"), ("data file", "missing.raw"),
    ("endian", "big"), ("byte skip", "-1"), ("byte skip", "999999"),
]


def _cases() -> list[tuple[str, tuple]]:
    cases: list[tuple[str, tuple]] = []
    for name, (offset, fmt) in _NIFTI_FIELDS.items():
        for value in (_I16 if fmt == "h" else _F32):
            cases.append((f"nii {name}={value}", ("nii-field", "ct.nii", offset, fmt, value)))
    for value in (0, 1, 540, -348, 2**31 - 1):
        cases.append((f"nii sizeof_hdr={value}", ("nii-field", "ct.nii", 0, "i", value)))
    for magic in (b"ni1\x00", b"n+2\x00", b"\x00\x00\x00\x00"):
        cases.append((f"nii magic={magic!r}", ("nii-bytes", "ct.nii", 344, magic)))
    rng = random.Random(SEED)
    for n in range(12):  # a sample of the field cases on the compressed and float files
        name, (offset, fmt) = rng.choice(sorted(_NIFTI_FIELDS.items()))
        value = rng.choice(_I16 if fmt == "h" else _F32)
        cases.append((f"nii.gz {name}={value}", ("nii-field", "ct.nii.gz", offset, fmt, value)))
        cases.append((f"float nii {name}={value}", ("nii-field", "ctf.nii", offset, fmt, value)))
    for n in range(60):
        cases.append((f"nii flips #{n}", ("nii-flip", "ct.nii", SEED + n)))
    for n in range(30):
        cases.append((f"nii.gz flips #{n}", ("nii-flip", "ct.nii.gz", SEED + 100 + n)))
    for n in range(15):
        cases.append((f"float nii flips #{n}", ("nii-flip", "ctf.nii", SEED + 200 + n)))
    for where in (0, 10, 100, 347, 348, 352, 400, 0.5, 0.9, -1):
        cases.append((f"nii cut at {where}", ("cut", "ct.nii", where)))
        cases.append((f"nii.gz cut at {where}", ("cut", "ct.nii.gz", where)))
    for key, value in _MHA_FIELDS:
        cases.append((f"mha {key}={value}", ("text-field", "ct.mha", key, " = ", value)))
    for value in ("0", "999999999", "-5", "abc"):
        cases.append((f"compressed mha CompressedDataSize={value}",
                      ("text-field", "ctz.mha", "CompressedDataSize", " = ", value)))
    for key, value in _NRRD_FIELDS:
        cases.append((f"nrrd {key}={value}", ("text-field", "ct.nrrd", key, ": ", value)))
    for name in ("ct.mha", "ctz.mha", "ct.nrrd"):
        for where in (0.3, 0.95, -1):
            cases.append((f"{name} cut at {where}", ("cut", name, where)))
    for keyword, value, every in _DICOM_FIELDS:
        cases.append((f"dicom {keyword}={value}{' (all files)' if every else ''}",
                      ("dicom-field", keyword, value, every)))
    for n in range(80):
        cases.append((f"dicom header flips #{n}", ("dicom-flip", "series/IM00002.dcm", SEED + 300 + n)))
    for where in (0, 1, 127, 128, 131, 132, 133, 140, 200, 300, 400, 500, "pixels-1", "pixels+1", -1):
        cases.append((f"dicom cut at {where}", ("dicom-cut", "series/IM00002.dcm", where)))
    for n in range(20):
        cases.append((f"multi-frame header flips #{n}", ("dicom-flip", "mf.dcm", SEED + 400 + n)))
    for value in ("0", "1", "3", "5", "100000", "2147483647"):
        cases.append((f"multi-frame NumberOfFrames={value}", ("mf-field", "NumberOfFrames", value)))
    for where in (0.2, 0.5, "pixels-1", -1):
        cases.append((f"multi-frame cut at {where}", ("dicom-cut", "mf.dcm", where)))
    return cases


CASES = _cases()


# --- building the studies ----------------------------------------------------------------------

def build_base(base: Path) -> None:
    """Small studies every case starts from (deterministic)."""
    import numpy as np
    import SimpleITK as sitk

    from ctrg_desktop.io.dicom_write import write_dicom_multiframe, write_dicom_series
    from ctrg_desktop.io.volume import Volume

    base.mkdir(parents=True, exist_ok=True)
    array = (np.arange(5 * 6 * 7).reshape(5, 6, 7) * 7 - 1000).astype(np.int16)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.8, 2.5))
    image.SetOrigin((-10.0, 20.0, 30.0))
    sitk.WriteImage(image, str(base / "ct.nii"))
    (base / "ct.nii.gz").write_bytes(gzip.compress((base / "ct.nii").read_bytes(), mtime=0))
    sitk.WriteImage(sitk.Cast(image, sitk.sitkFloat32), str(base / "ctf.nii"))
    sitk.WriteImage(image, str(base / "ct.mha"), useCompression=False)
    sitk.WriteImage(image, str(base / "ctz.mha"), useCompression=True)
    sitk.WriteImage(image, str(base / "ct.nrrd"), useCompression=False)
    volume = Volume((np.arange(4 * 8 * 8).reshape(4, 8, 8) - 100).astype(np.int16), (2.0, 0.8, 0.6),
                    (1.0, 2.0, 3.0))
    write_dicom_series(volume, base / "series")
    write_dicom_multiframe(volume, base / "mf.dcm")


def _pixel_offset(data: bytes) -> int:
    return data.rindex(b"\xe0\x7f\x10\x00")


def make_case(spec: tuple, base: Path, case: Path) -> Path:
    """Write the mutated study of ``spec`` under ``case``; the path to read."""
    import pydicom

    kind = spec[0]
    case.mkdir(parents=True)
    if kind.startswith("dicom") and not spec[1].startswith("mf") and kind != "mf-field":
        shutil.copytree(base / "series", case / "series")
    if kind == "nii-field":
        _, name, offset, fmt, value = spec
        data = bytearray(_plain(base / name))
        struct.pack_into("<" + fmt, data, offset, value)
        return _write(case / name, bytes(data))
    if kind == "nii-bytes":
        _, name, offset, raw = spec
        data = bytearray(_plain(base / name))
        data[offset:offset + len(raw)] = raw
        return _write(case / name, bytes(data))
    if kind == "nii-flip":
        _, name, seed = spec
        rng = random.Random(seed)
        data = bytearray(_plain(base / name))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(352)] = rng.randrange(256)
        return _write(case / name, bytes(data))
    if kind == "cut":
        _, name, where = spec
        data = (base / name).read_bytes()
        (case / name).write_bytes(data[:_position(where, len(data))])
        return case / name
    if kind == "text-field":
        _, name, key, separator, value = spec
        data = (base / name).read_bytes()
        end = data.index(b"\n\n") if name.endswith(".nrrd") else data.index(b"ElementDataFile")
        head = data[:end].decode("latin-1")
        line = f"{key}{separator}{value}" if value is not None else ""
        pattern = rf"^{re.escape(key)}\s*{re.escape(separator.strip())}.*$"
        head, found = re.subn(pattern, line, head, flags=re.M)
        if not found and value is not None:
            head = head + "\n" + line if name.endswith(".nrrd") else line + "\n" + head
        (case / name).write_bytes(head.encode("latin-1") + data[end:])
        return case / name
    if kind == "dicom-field":
        _, keyword, value, every = spec
        files = sorted((case / "series").iterdir()) if every else [case / "series" / "IM00002.dcm"]
        for path in files:
            if keyword == "TransferSyntax":
                data = path.read_bytes()
                path.write_bytes(data.replace(b"1.2.840.10008.1.2.1\x00", value.encode() + b"\x00", 1))
                continue
            ds = pydicom.dcmread(path)
            raw = isinstance(value, str) and value.startswith("raw:")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for k in keyword.split("+"):
                    setattr(ds, k, _PLACEHOLDER if raw else value)
                    if k == "PixelPaddingValue":
                        ds[k].VR = "SS" if ds.get("PixelRepresentation") == 1 else "US"
                ds.save_as(path)
            if raw:  # a value pydicom will not write: patch the bytes of a placeholder
                data = path.read_bytes()
                path.write_bytes(data.replace(_PLACEHOLDER.encode(), value[4:].ljust(len(_PLACEHOLDER)).encode(), 1))
        return case / "series"
    if kind == "dicom-flip":
        _, name, seed = spec
        if name == "mf.dcm":
            shutil.copy(base / name, case / name)
        rng = random.Random(seed)
        path = case / name
        data = bytearray(path.read_bytes())
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(_pixel_offset(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        return path if name == "mf.dcm" else case / "series"
    if kind == "dicom-cut":
        _, name, where = spec
        if name == "mf.dcm":
            shutil.copy(base / name, case / name)
        path = case / name
        data = path.read_bytes()
        if isinstance(where, str):
            where = _pixel_offset(data) + (1 if where.endswith("+1") else -1)
        path.write_bytes(data[:_position(where, len(data))])
        return path if name == "mf.dcm" else case / "series"
    if kind == "mf-field":
        _, keyword, value = spec
        ds = pydicom.dcmread(base / "mf.dcm")
        setattr(ds, keyword, value)
        ds.save_as(case / "mf.dcm")
        return case / "mf.dcm"
    raise ValueError(f"unknown case kind {kind}")


def _plain(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def _position(where, size: int) -> int:
    if isinstance(where, float):
        return int(size * where)
    return size + where if where < 0 else where


# --- reading -----------------------------------------------------------------------------------

def run_case(target: Path, case: Path) -> dict:
    import numpy as np

    from ctrg_desktop.errors import CtrgError
    from ctrg_desktop.io.readers import list_series, read_study

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summaries = list_series(target)
            json.dumps([s.to_dict() for s in summaries], allow_nan=False)
            volume = read_study(target)
        array = volume.array
        problems = []
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            problems.append("non-finite voxels")
        if not all(math.isfinite(s) and s > 0 for s in volume.spacing):
            problems.append(f"spacing {volume.spacing}")
        if not np.isfinite(volume.direction).all() or not np.isfinite(volume.origin).all():
            problems.append("non-finite geometry")
        json.dumps(volume.summary(), allow_nan=False)
        if problems:
            return {"outcome": "bad", "detail": "; ".join(problems)}
        return {"outcome": "ok", "detail": f"{volume.shape} {volume.series.warnings}"}
    except CtrgError as exc:
        message = " ".join(str(exc).split())
        if case.name not in message:
            return {"outcome": "bad", "detail": f"{type(exc).__name__} not naming the study: {message}"}
        return {"outcome": "error", "detail": f"{type(exc).__name__}: {message}"}
    except BaseException:  # noqa: BLE001 - every other exception is what the fuzz looks for
        return {"outcome": "bad", "detail": traceback.format_exc(limit=6)}


@contextmanager
def _stderr_captured(path: Path):
    """Redirect file descriptor 2 (what C++ libraries print to) into ``path`` for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def main(argv: list[str]) -> int:
    work, first, stop = Path(argv[1]), int(argv[2]), int(argv[3])
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    base = work / "base"
    if not (base / "mf.dcm").exists():
        build_base(base)
    for index in range(first, min(stop, len(CASES))):
        name, spec = CASES[index]
        case = work / f"case{index:04d}"
        shutil.rmtree(case, ignore_errors=True)
        print(json.dumps({"start": index}), flush=True)
        signal.alarm(CASE_SECONDS)  # default action: the worker dies, the test reports the case
        try:
            target = make_case(spec, base, case)
        except Exception as exc:  # noqa: BLE001 - a case the builder cannot write is not a reader bug
            result = {"outcome": "unbuilt", "detail": f"{type(exc).__name__}: {exc}"}
        else:
            with _stderr_captured(work / "stderr.txt") as captured:
                result = run_case(target, case)
            result["stderr"] = captured.read_text(errors="replace")[-2000:]
        signal.alarm(0)
        shutil.rmtree(case, ignore_errors=True)
        print(json.dumps({"case": index, "name": name, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
