"""Codes for structures and masks in DICOM exports: SNOMED CT where a structure's name names an
organ, otherwise a private code (coding scheme ``99CTRG``, the structure's name as meaning)."""

from __future__ import annotations

import hashlib
import re

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

PRIVATE_SCHEME = "99CTRG"

#: Words looked for (in this order) in a structure or mask name, and their SNOMED CT codes.
ANATOMY = (("lung", codes.SCT.Lung), ("trachea", codes.SCT.Trachea), ("bronch", codes.SCT.Bronchus),
           ("mediastin", codes.SCT.Mediastinum), ("heart", codes.SCT.Heart), ("aorta", codes.SCT.Aorta),
           ("esophag", codes.SCT.Esophagus), ("oesophag", codes.SCT.Esophagus), ("pleura", codes.SCT.Pleura),
           ("bone", codes.SCT.Bone), ("thyroid", codes.SCT.Thyroid), ("breast", codes.SCT.Breast),
           ("chest wall", codes.SCT.ChestWall), ("liver", codes.SCT.Liver), ("abdom", codes.SCT.Abdomen))
#: Structure names that are one organ (lower case), for :func:`structure_code`.
ORGANS = {"lung": codes.SCT.Lung, "trachea": codes.SCT.Trachea, "bronchus": codes.SCT.Bronchus,
          "bronchi": codes.SCT.Bronchus, "mediastinum": codes.SCT.Mediastinum, "heart": codes.SCT.Heart,
          "aorta": codes.SCT.Aorta, "esophagus": codes.SCT.Esophagus, "oesophagus": codes.SCT.Esophagus,
          "pleura": codes.SCT.Pleura, "bone": codes.SCT.Bone, "thyroid": codes.SCT.Thyroid,
          "thyroid gland": codes.SCT.Thyroid, "breast": codes.SCT.Breast, "chest wall": codes.SCT.ChestWall,
          "liver": codes.SCT.Liver, "abdomen": codes.SCT.Abdomen}
#: Words naming an abnormality, and their SNOMED CT codes (a mask named so is a finding, not anatomy).
ABNORMAL = (("nodule", codes.SCT.Nodule), ("mass", codes.SCT.Mass), ("tumour", codes.SCT.Neoplasm),
            ("tumor", codes.SCT.Neoplasm), ("lesion", codes.SCT.Lesion))


def _find(name: str, table) -> CodedConcept | None:
    lowered = name.lower()
    for word, code in table:
        if word in lowered:
            return CodedConcept(code.value, code.scheme_designator, code.meaning)
    return None


def private_code(name: str) -> CodedConcept:
    """A code of the private scheme for ``name``: its letters and digits in capitals, cut to 11
    plus 4 hex digits of a hash of the name when longer than 16 (Code Value is at most 16)."""
    value = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "UNNAMED"
    if len(value) > 16:
        value = f"{value[:11].rstrip('_')}_{hashlib.sha1(name.encode()).hexdigest()[:4].upper()}"
    return CodedConcept(value, PRIVATE_SCHEME, name[:64])


def structure_code(name: str) -> CodedConcept:
    """The SNOMED CT code when ``name`` is one organ's name ("lung", "Lungs"), else a private code
    (a compound structure such as "mediastinum and heart" keeps its own name)."""
    key = name.lower().strip()
    code = ORGANS.get(key) or (ORGANS.get(key[:-1]) if key.endswith("s") else None)
    return CodedConcept(code.value, code.scheme_designator, code.meaning) if code else private_code(name)


def segment_codes(name: str, structure: str | None) -> tuple[CodedConcept, CodedConcept, CodedConcept | None]:
    """(category, type, anatomic region or None) of a mask called ``name`` in ``structure``."""
    abnormal = _find(name, ABNORMAL)
    region = structure_code(structure) if structure else None
    if abnormal is not None:
        category = codes.SCT.MorphologicallyAbnormalStructure
        return CodedConcept(category.value, "SCT", category.meaning), abnormal, region
    anatomy = codes.SCT.AnatomicalStructure
    kind = _find(name, ANATOMY) or (region if region is not None else private_code(name))
    return CodedConcept(anatomy.value, "SCT", anatomy.meaning), kind, (region if region != kind else None)
