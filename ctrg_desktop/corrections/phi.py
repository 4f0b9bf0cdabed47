"""Check a corrections record for the source study's identifiers (PHI).

:func:`phi_strings` lists what a study carries (``volume.meta``: patient name and its parts,
patient ID, birth date, study date, accession number, institution, referring physician, study and
series UIDs; ``volume.series``: series UID and the source path). :func:`find_phi` looks for them,
case-insensitively and as whole words, in every file name and file of a folder: text files in
full; NIfTI files in their gzip header and their NIfTI header with extensions (the voxel data is
written from the array alone and is not searched: short strings would match by chance); any other
file in full. Hits name the field and file, never the value, so they can be logged.
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

_MIN_LENGTH = 3  #: shorter values (sex "M", age) identify no one and match everywhere


@dataclass(frozen=True)
class PhiHit:
    """An identifier of the study found in a record: which field, in which file (never the value)."""

    file: Path
    field: str

    def __str__(self) -> str:
        return f"{self.file}: contains the study's {self.field.replace('_', ' ')}"


def _date_variants(value: str) -> list[str]:
    digits = re.sub(r"\D", "", value)
    if len(digits) != 8:
        return [value]
    y, m, d = digits[:4], digits[4:6], digits[6:]
    return [digits, f"{y}-{m}-{d}", f"{y}.{m}.{d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}", f"{d}/{m}/{y}"]


def _name_variants(value: str) -> list[str]:
    parts = [p for p in re.split(r"[\^,\s]+", value) if p]
    out = [value, " ".join(parts), " ".join(reversed(parts[:2]))]
    out += [p for p in parts if len(p) >= _MIN_LENGTH and p.lower() not in ("dr", "mr", "mrs", "ms", "prof")]
    return out


def phi_strings(volume) -> dict[str, list[str]]:
    """Field -> the strings of ``volume`` that identify its patient or study (empty fields left out)."""
    meta, series = volume.meta, volume.series
    fields = {
        "patient_name": _name_variants(meta.patient_name) if meta.patient_name else [],
        "patient_id": [meta.patient_id],
        "birth_date": _date_variants(meta.birth_date) if meta.birth_date else [],
        "study_date": [re.sub(r"\D", "", meta.study_date)] if meta.study_date else [],
        "accession_number": [meta.accession_number],
        "institution": [meta.institution],
        "referring_physician": _name_variants(meta.referring_physician) if meta.referring_physician else [],
        "study_instance_uid": [meta.study_instance_uid],
        "series_instance_uid": [meta.series_instance_uid, series.series_instance_uid],
        "source_path": [series.source_path],
    }
    out = {}
    for name, values in fields.items():
        kept = list(dict.fromkeys(v.strip() for v in values if v and len(v.strip()) >= _MIN_LENGTH))
        if kept:
            out[name] = kept
    return out


def _patterns(strings: dict[str, list[str]]) -> list[tuple[str, re.Pattern]]:
    """Per field, one bytes regex matching any of its strings as a whole word, case-insensitively."""
    out = []
    for name, values in strings.items():
        alternatives = []
        for v in values:
            raw = re.escape(v.encode("utf-8"))
            left = rb"(?<![A-Za-z0-9])" if re.match(r"\w", v) else b""
            right = rb"(?![A-Za-z0-9])" if re.search(r"\w$", v) else b""
            alternatives.append(left + raw + right)
        out.append((name, re.compile(b"|".join(alternatives), re.IGNORECASE)))
    return out


def _nifti_header(path: Path) -> bytes:
    """The gzip member header and the NIfTI header + extensions (up to vox_offset) of a NIfTI file."""
    raw_head = path.read_bytes()[:1024] if path.suffix == ".gz" else b""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(352)
            offset = 352
            if len(head) >= 112:
                for order in ("<", ">"):
                    if struct.unpack(f"{order}i", head[:4])[0] in (348, 540):
                        size = struct.unpack(f"{order}i", head[:4])[0]
                        fmt, pos = ("f", 108) if size == 348 else ("q", 168)
                        offset = int(struct.unpack(f"{order}{fmt}", head[pos:pos + struct.calcsize(fmt)])[0])
                        break
            rest = f.read(max(0, min(offset, 16 << 20) - len(head)))
    except (OSError, EOFError, zlib.error, struct.error):
        return raw_head + path.read_bytes()  # not a readable NIfTI: search all of it
    return raw_head + head + rest


def _searchable(path: Path) -> bytes:
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return _nifti_header(path)
    return path.read_bytes()


def find_phi(record_dir, volume) -> list[PhiHit]:
    """Every place under ``record_dir`` (a record folder, or a whole dataset) where one of
    ``volume``'s identifiers appears (module docstring); empty when there is none."""
    root = Path(record_dir)
    patterns = _patterns(phi_strings(volume))
    if not patterns:
        return []
    hits = []
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*"))
    for path in paths:
        relative = path.relative_to(root) if path != root else Path(path.name)
        for name, pattern in patterns:
            if pattern.search(str(relative).encode("utf-8")):
                hits.append(PhiHit(relative, f"{name} (in the file name)"))
        if not path.is_file():
            continue
        data = _searchable(path)
        for name, pattern in patterns:
            if pattern.search(data):
                hits.append(PhiHit(relative, name))
    return hits
