"""Fine anatomical labels of the phantom label map and the model structure each belongs to."""

from __future__ import annotations

from enum import IntEnum


class Tissue(IntEnum):
    """Label-map values (uint8); 0 is air outside the body."""

    BACKGROUND = 0
    MUSCLE = 1
    FAT = 2
    LUNG_RIGHT = 3
    LUNG_LEFT = 4
    TRACHEA = 5
    BRONCHI = 6
    HEART = 7
    AORTA = 8
    PULMONARY_ARTERY = 9
    VEINS = 10
    ARCH_ARTERIES = 11
    MEDIASTINAL_FAT = 12
    PERICARDIUM = 13
    ESOPHAGUS = 14
    PLEURA = 15
    DIAPHRAGM = 16
    VERTEBRA = 17
    DISC = 18
    SPINAL_CANAL = 19
    RIB = 20
    STERNUM = 21
    CLAVICLE = 22
    SCAPULA = 23
    THYROID = 24
    BREAST = 25
    LIVER = 26
    STOMACH = 27
    SPLEEN = 28
    ABDOMEN_OTHER = 29
    LYMPH_NODE = 30
    DEVICE = 31


_LEGEND: dict[Tissue, tuple[str, str]] = {
    Tissue.MUSCLE: ("chest wall muscle", "breast and chest wall"),
    Tissue.FAT: ("subcutaneous fat", "breast and chest wall"),
    Tissue.LUNG_RIGHT: ("right lung", "lung"),
    Tissue.LUNG_LEFT: ("left lung", "lung"),
    Tissue.TRACHEA: ("trachea", "trachea and bronchi"),
    Tissue.BRONCHI: ("bronchi", "trachea and bronchi"),
    Tissue.HEART: ("heart", "mediastinum and heart"),
    Tissue.AORTA: ("aorta", "mediastinum and heart"),
    Tissue.PULMONARY_ARTERY: ("pulmonary trunk and arteries", "mediastinum and heart"),
    Tissue.VEINS: ("venae cavae and brachiocephalic veins", "mediastinum and heart"),
    Tissue.ARCH_ARTERIES: ("supra-aortic arteries", "mediastinum and heart"),
    Tissue.MEDIASTINAL_FAT: ("mediastinal fat", "mediastinum and heart"),
    Tissue.PERICARDIUM: ("pericardium", "mediastinum and heart"),
    Tissue.ESOPHAGUS: ("esophagus", "esophagus"),
    Tissue.PLEURA: ("pleura", "pleura"),
    Tissue.DIAPHRAGM: ("diaphragm", "pleura"),
    Tissue.VERTEBRA: ("vertebra", "bone"),
    Tissue.DISC: ("intervertebral disc", "bone"),
    Tissue.SPINAL_CANAL: ("spinal canal", "bone"),
    Tissue.RIB: ("rib and costal cartilage", "bone"),
    Tissue.STERNUM: ("sternum", "bone"),
    Tissue.CLAVICLE: ("clavicle", "bone"),
    Tissue.SCAPULA: ("scapula", "bone"),
    Tissue.THYROID: ("thyroid", "thyroid"),
    Tissue.BREAST: ("breast", "breast and chest wall"),
    Tissue.LIVER: ("liver", "abdomen"),
    Tissue.STOMACH: ("stomach", "abdomen"),
    Tissue.SPLEEN: ("spleen", "abdomen"),
    Tissue.ABDOMEN_OTHER: ("abdominal fat and bowel", "abdomen"),
    Tissue.LYMPH_NODE: ("lymph node", "mediastinum and heart"),
    Tissue.DEVICE: ("medical device", "others"),
}

#: Fine label value -> model structure name (one of the 10 of ``chest_ct.json``).
STRUCTURE_OF_LABEL: dict[int, str] = {int(t): s for t, (_, s) in _LEGEND.items()}

LUNGS = (Tissue.LUNG_RIGHT, Tissue.LUNG_LEFT)
BONES = (Tissue.VERTEBRA, Tissue.RIB, Tissue.STERNUM, Tissue.CLAVICLE, Tissue.SCAPULA)


def structure_of_label() -> dict[int, str]:
    """A copy of :data:`STRUCTURE_OF_LABEL`."""
    return dict(STRUCTURE_OF_LABEL)


def label_legend() -> dict[str, dict[str, str]]:
    """JSON-ready legend: ``{"3": {"name": "right lung", "structure": "lung"}, ...}``."""
    return {str(int(t)): {"name": n, "structure": s} for t, (n, s) in _LEGEND.items()}
