"""Check a corrections record for the source study's identifiers (PHI).

:func:`phi_strings` lists what a study carries (``volume.meta``: patient name and its parts,
patient ID, birth date, study date, accession number, institution, referring physician, study and
series UIDs; ``volume.series``: series UID and the source path). :func:`find_phi` looks for them,
case-insensitively and as whole words, in every file name and file of a folder: text files in
full; NIfTI files in their gzip header and their NIfTI header with extensions (the voxel data is
written from the array alone and is not searched: short strings would match by chance); any other
file in full. Hits name the field and file, never the value, so they can be logged.

How loosely each kind is matched:

- dates (study, birth): ``20230917``, ``2023-09-17``, ``2023/09/17``, ``17/09/2023``, ``09/17/2023``,
  ``17.09.2023``, ``17-09-2023`` (also without leading zeros), ``Sep 17, 2023``, ``September 17 2023``,
  ``17 Sep 2023``, ``17-Sep-2023``, ``17th September 2023``;
- identifiers (patient ID, accession number): ignoring case and separators (``MRN-88812345`` is
  found as ``MRN 88812345``, ``mrn88812345``), and their number alone when it has 5+ digits
  (``ACC-771122`` is found in ``Accession 771122``);
- names: the whole name in either order, and each part of 2+ letters that is not a title or a
  common word (:data:`COMMON_WORDS`); 2-letter parts are searched in text files and file names only;
- the institution: the whole name, and each significant word of 4+ letters
  (``Quarrington`` of "Quarrington General Hospital"), generic words (hospital, general, ...) and
  :data:`COMMON_WORDS` left out.
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

_MIN_LENGTH = 3  #: shorter values (sex "M", age) identify no one and match everywhere
_MIN_NAME_PART = 2  #: name parts as short as "Li" or "Wu" are still names (searched in text only)
_MIN_INSTITUTION_WORD = 4
_MIN_ID_DIGITS = 5  #: the number of an identifier alone, when it has at least this many digits
_TITLES = {"dr", "mr", "mrs", "ms", "miss", "prof", "md", "phd", "jr", "sr", "ii", "iii", "iv"}
#: Words of institution names that identify none (matched alone they would refuse many reports).
GENERIC_INSTITUTION_WORDS = {
    "hospital", "hospitals", "clinic", "clinics", "medical", "center", "centre", "general", "university",
    "universitaire", "the", "of", "and", "for", "at", "saint", "st", "royal", "memorial", "regional", "county",
    "community", "national", "central", "state", "health", "healthcare", "care", "institute", "imaging",
    "radiology", "diagnostic", "diagnostics", "infirmary", "foundation", "trust", "nhs", "services", "service",
    "system", "department", "school", "college", "faculty", "group", "network", "practice", "unit", "associates",
    "children", "childrens", "women", "womens", "city", "north", "south", "east", "west", "northern",
    "southern", "eastern", "western", "valley", "mount", "hospitalier", "klinikum", "krankenhaus", "ospedale",
    "hopital", "policlinic", "polyclinic", "sciences", "science", "cancer", "heart", "lung", "chest", "cardiac",
    "thoracic", "surgical", "surgery", "teaching", "research", "private", "public", "district", "province",
    "provincial", "metropolitan", "baptist", "methodist", "presbyterian", "mercy", "providence", "good",
    "samaritan", "sacred", "holy", "cross", "lady", "ladies", "new"}
#: Common words (many in reports) never searched alone as a part of a name or institution.
COMMON_WORDS = {
    "small", "large", "long", "short", "mass", "wall", "clear", "white", "black", "brown", "green", "young",
    "normal", "left", "right", "lower", "upper", "middle", "base", "bone", "heart", "lung", "lungs", "chest",
    "free", "fine", "well", "good", "hill", "rose", "may", "june", "april", "august", "will", "mark", "case",
    "field", "fields", "lobe", "node", "nodes", "body", "head", "neck", "back", "side", "king", "love", "hope",
    "faith", "grace", "joy", "page", "bell", "hall", "wood", "stone", "lane", "park", "lake", "view", "rib",
    "ribs", "spine", "cyst", "tube", "line", "lines", "mild", "severe", "acute", "study", "prior", "seen",
    "with", "from", "this", "that", "there", "here", "none", "noted", "note", "patient", "report", "image",
    "images", "series", "scan", "dose", "contrast", "phase", "axial", "level"} | GENERIC_INSTITUTION_WORDS
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@dataclass(frozen=True)
class PhiHit:
    """An identifier of the study found in a record: which field, in which file (never the value)."""

    file: Path
    field: str

    def __str__(self) -> str:
        return f"{self.file}: contains the study's {self.field.replace('_', ' ')}"


def _date_variants(value: str) -> list[str]:
    """The date (DICOM ``YYYYMMDD``) as people write it: numeric forms with any common separator
    and with or without leading zeros, and with the month's name (``Sep 17, 2023``, ``17 Sep 2023``)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) != 8:
        return [value]
    y, m, d = digits[:4], digits[4:6], digits[6:]
    out = [digits, f"{y}-{m}-{d}", f"{y}.{m}.{d}", f"{y}/{m}/{d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}", f"{d}/{m}/{y}",
           f"{d}-{m}-{y}", f"{m}-{d}-{y}"]
    if not 1 <= int(m) <= 12 or not 1 <= int(d) <= 31:
        return out
    dd, mm = str(int(d)), str(int(m))
    out += [f"{dd}.{mm}.{y}", f"{mm}/{dd}/{y}", f"{dd}/{mm}/{y}", f"{dd}-{mm}-{y}", f"{mm}-{dd}-{y}"]
    month = _MONTHS[int(m) - 1]
    for name in dict.fromkeys((month, month[:3], "Sept" if month == "September" else month[:3])):
        for day in dict.fromkeys((d, dd)):
            out += [f"{name} {day}, {y}", f"{day} {name} {y}", f"{day}-{name}-{y}"]
    return list(dict.fromkeys(out))


def _significant(word: str, minimum: int) -> bool:
    return len(word) >= minimum and word.lower() not in COMMON_WORDS and word.lower() not in _TITLES


def _name_variants(value: str) -> list[str]:
    parts = [p for p in re.split(r"[\^,\s]+", value) if p]
    out = [value, " ".join(parts), " ".join(reversed(parts[:2]))]
    words = [w for p in parts for w in re.split(r"[^\w'-]+", p) if w]
    out += [w for w in words if w.isalpha() and _significant(w, _MIN_NAME_PART)]
    return out


def _institution_variants(value: str) -> list[str]:
    words = re.findall(r"[^\W\d_]+", value)
    return [value] + [w for w in words if _significant(w, _MIN_INSTITUTION_WORD)]


def _id_variants(value: str) -> list[str]:
    """The identifier, and its digit runs of 5+ digits on their own (``ACC-771122`` -> ``771122``)."""
    return [value] + [run for run in re.findall(r"\d+", value) if len(run) >= _MIN_ID_DIGITS]


def phi_strings(volume) -> dict[str, list[str]]:
    """Field -> the strings of ``volume`` that identify its patient or study (empty fields left out)."""
    meta, series = volume.meta, volume.series
    fields = {
        "patient_name": _name_variants(meta.patient_name) if meta.patient_name else [],
        "patient_id": _id_variants(meta.patient_id) if meta.patient_id else [],
        "birth_date": _date_variants(meta.birth_date) if meta.birth_date else [],
        "study_date": _date_variants(meta.study_date) if meta.study_date else [],
        "accession_number": _id_variants(meta.accession_number) if meta.accession_number else [],
        "institution": _institution_variants(meta.institution) if meta.institution else [],
        "referring_physician": _name_variants(meta.referring_physician) if meta.referring_physician else [],
        "study_instance_uid": [meta.study_instance_uid],
        "series_instance_uid": [meta.series_instance_uid, series.series_instance_uid],
        "source_path": [series.source_path],
    }
    out = {}
    for name, values in fields.items():
        kept = list(dict.fromkeys(v.strip() for v in values if v and (len(v.strip()) >= _MIN_LENGTH or (
            name in _NAME_FIELDS and len(v.strip()) >= _MIN_NAME_PART))))
        if kept:
            out[name] = kept
    return out


_NAME_FIELDS = ("patient_name", "referring_physician")
_ID_FIELDS = ("patient_id", "accession_number")
#: between two characters of an identifier: up to 3 separators (space, '-', '_', '.', '/', ':', '#')
_ID_GAP = rb"[\s\-_./:#]{0,3}"


def _regex(value: str, field: str) -> bytes:
    """One value as a bytes regex: an identifier's separators optional, elsewhere any run of
    spaces and commas for a space (``Sep 17, 2023`` = ``Sep 17 2023``), a date's day with or
    without its ordinal suffix (``17th``)."""
    if field in _ID_FIELDS:
        chars = [re.escape(c.encode("utf-8")) for c in value if c.isalnum()]
        raw = _ID_GAP.join(chars) if chars else re.escape(value.encode("utf-8"))
    else:
        date = field in ("study_date", "birth_date") and re.search(r"[A-Za-z]", value)
        tokens = [re.escape(t.encode("utf-8")) + (rb"(?:st|nd|rd|th)?" if date and t.isdigit() and len(t) <= 2
                                                   else b"")
                  for t in re.split(r"[\s,]+", value.strip()) if t]
        raw = rb"[\s,]+".join(tokens)
    left = rb"(?<![A-Za-z0-9])" if re.match(r"\w", value) else b""
    right = rb"(?![A-Za-z0-9])" if re.search(r"\w$", value) else b""
    return left + raw + right


def _patterns(strings: dict[str, list[str]]) -> list[tuple[str, re.Pattern, bool]]:
    """Per field, (name, bytes regex matching any of its strings as a whole word case-insensitively,
    text only); the short name parts go into a second regex searched in text files only."""
    out = []
    for name, values in strings.items():
        short = [v for v in values if len(v) < _MIN_LENGTH]
        full = [v for v in values if len(v) >= _MIN_LENGTH]
        for group, text_only in ((full, False), (short, True)):
            if group:
                out.append((name, re.compile(b"|".join(_regex(v, name) for v in group), re.IGNORECASE), text_only))
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


def _searchable(path: Path) -> tuple[bytes, bool]:
    """(what is searched of the file, whether it is text)."""
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return _nifti_header(path), False
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data, False
    return data, True


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
        for name, pattern, _ in patterns:
            if pattern.search(str(relative).encode("utf-8")):
                hits.append(PhiHit(relative, f"{name} (in the file name)"))
        if not path.is_file():
            continue
        data, text = _searchable(path)
        for name, pattern, text_only in patterns:
            if (text or not text_only) and pattern.search(data):
                hits.append(PhiHit(relative, name))
    return list(dict.fromkeys(hits))
