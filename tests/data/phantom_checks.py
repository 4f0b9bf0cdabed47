"""Independent readers of a phantom study for the tests: what the image shows, what the text says."""

from __future__ import annotations

import json
import re

import numpy as np
from scipy import ndimage

from ctrg_desktop.data.phantoms import Tissue
from ctrg_desktop.resources import resources_dir

LUNGS = (Tissue.LUNG_RIGHT, Tissue.LUNG_LEFT)
NEGATION = re.compile(r"\b(no|not|without|neither|nor)\b", re.I)
POSITIVE_CUES = {
    "Medical material": r"pacemaker|catheter|sternotomy|nasogastric|wires",
    "Arterial wall calcification": r"(aort\w*.*(calcif|atheroscl|plaque))|((calcif|atheroscl|plaque).*aort)",
    "Cardiomegaly": r"cardiomegaly|heart size increased|heart is enlarged|enlarged heart",
    "Pericardial effusion": r"pericardial effusion|pericardial fluid",
    "Coronary artery wall calcification": r"coronary",
    "Hiatal hernia": r"hiatal hernia",
    "Lymphadenopathy": r"lymphadenopathy|lymph node",
    "Emphysema": r"emphysem",
    "Atelectasis": r"atelecta",
    "Lung nodule": r"nodul",
    "Lung opacity": r"ground[- ]glass|opacit",
    "Pulmonary fibrotic sequela": r"fibro",
    "Pleural effusion": r"pleural effusion|pleural fluid",
    "Mosaic attenuation pattern": r"mosaic",
    "Peribronchial thickening": r"peribronchial",
    "Consolidation": r"consolidat",
    "Bronchiectasis": r"bronchiecta",
    "Interlobular septal thickening": r"septal thickening",
}


def split_sentences(text: str) -> list[str]:
    """CTRG's rule: split on '.', re-join pieces that do not start with a space."""
    pieces = text.split(".")
    out = []
    for p in pieces:
        if out and p and not p.startswith(" "):
            out[-1] += "." + p
        elif p.strip():
            out.append(p.strip())
    return [s.strip() for s in out if s.strip()]


def positive_labels(text: str) -> set[str]:
    """Labels stated as present by some sentence without a negation."""
    found = set()
    for sentence in split_sentences(text):
        if NEGATION.search(sentence):
            continue
        found |= {label for label, cue in POSITIVE_CUES.items() if re.search(cue, sentence, re.I)}
    return found


def structure_keywords() -> dict[str, list[str]]:
    data = json.loads((resources_dir() / "structures" / "chest_ct.json").read_text())
    return {s["name"]: s["keywords"] for s in data["structures"]}


def matches(sentence: str, keywords) -> bool:
    return any(k.lower() in sentence.lower() for k in keywords)


# ---- image side -------------------------------------------------------------------------

def cardiothoracic_ratio(labels: np.ndarray) -> float:
    def widest(mask):
        cols = np.nonzero(mask.any(axis=1))            # (k, i) pairs
        return max(np.ptp(cols[1][cols[0] == k]) + 1 for k in np.unique(cols[0]))
    return widest(labels == Tissue.HEART) / widest(np.isin(labels, LUNGS))


def lung_share_below(study, hu: float) -> float:
    lung = np.isin(study.label_map, LUNGS)
    return float((study.volume.array[lung] < hu).mean())


def hernia_voxels(study) -> int:
    """Stomach voxels lying above the diaphragm in their own (row, column) column."""
    lab = study.label_map
    dia = lab == Tissue.DIAPHRAGM
    top = np.where(dia.any(axis=0), lab.shape[0] - 1 - np.argmax(dia[::-1], axis=0), lab.shape[0])
    k = np.arange(lab.shape[0])[:, None, None]
    return int(((lab == Tissue.STOMACH) & (k > top[None])).sum())


def node_short_axes(study) -> list[float]:
    """Per connected lymph node: the largest in-plane equivalent diameter (mm)."""
    comps, n = ndimage.label(study.label_map == Tissue.LYMPH_NODE)
    _, sj, si = study.volume.spacing
    out = []
    for c in range(1, n + 1):
        area = (comps == c).sum(axis=(1, 2)).max() * sj * si
        out.append(float(2 * np.sqrt(area / np.pi)))
    return out


def calcified(study, label) -> int:
    """Voxels of ``label`` over 500 HU that are not within two voxels of bone (bone blurs into them)."""
    bone = np.isin(study.label_map, (Tissue.VERTEBRA, Tissue.RIB, Tissue.STERNUM, Tissue.CLAVICLE, Tissue.SCAPULA))
    near_bone = ndimage.binary_dilation(bone, iterations=2)
    return int(((study.label_map == label) & (study.volume.array > 500) & ~near_bone).sum())


def changed(on, off, tol: float = 40.0) -> np.ndarray:
    return np.abs(on.volume.array.astype(np.int32) - off.volume.array) > tol


def box_slices(bbox, pad: int = 0, shape=None):
    lo = [max(b - pad, 0) for b in bbox[:3]]
    hi = [b + pad for b in bbox[3:]]
    if shape is not None:
        hi = [min(h, n) for h, n in zip(hi, shape)]
    return tuple(slice(a, b) for a, b in zip(lo, hi))
