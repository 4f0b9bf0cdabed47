"""Assemble a CT-RATE style report (Findings_EN, Impressions_EN) from the drawn abnormalities."""

from __future__ import annotations

from dataclasses import dataclass

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.data.phantoms.finding import Detail
from ctrg_desktop.data.phantoms.finding_text import POSITIVE, impression
from ctrg_desktop.data.phantoms.normal_text import HEART_AND_VESSELS, NORMAL_TOPICS

MIN_WORDS, MAX_WORDS = 80, 250
_ORDERS = (
    ("trachea and bronchi", "mediastinum and heart", "esophagus", "thyroid", "breast and chest wall", "lung",
     "pleura", "abdomen", "bone", "others"),
    ("mediastinum and heart", "trachea and bronchi", "esophagus", "lung", "pleura", "thyroid",
     "breast and chest wall", "abdomen", "bone", "others"),
    ("trachea and bronchi", "lung", "pleura", "mediastinum and heart", "esophagus", "thyroid",
     "breast and chest wall", "abdomen", "others", "bone"),
)
_IMPRESSION_ORDER = ("Pleural effusion", "Consolidation", "Lung nodule", "Lung opacity", "Lymphadenopathy",
                     "Pericardial effusion", "Cardiomegaly", "Emphysema", "Bronchiectasis", "Atelectasis",
                     "Mosaic attenuation pattern", "Interlobular septal thickening", "Peribronchial thickening",
                     "Pulmonary fibrotic sequela", "Hiatal hernia", "Arterial wall calcification",
                     "Coronary artery wall calcification", "Medical material")
_NORMAL_IMPRESSIONS = ("No significant pathology was detected.", "No pathological finding was observed.",
                       "Normal CT findings of the thorax.")


@dataclass
class Report:
    findings: str
    impressions: str
    sentences: list[tuple[str, str]]   # (structure, sentence) of the findings, in order


def write_report(details: list[Detail], female: bool, rng) -> Report:
    """Findings of 80-250 words covering all 10 structures, and the impressions."""
    by_label = {label: [d for d in details if d.label == label] for label in CT_RATE_LABELS}
    by_label = {k: v for k, v in by_label.items() if v}
    order = _ORDERS[int(rng.integers(len(_ORDERS)))]
    sentences = _findings(by_label, female, order, rng, compact=False)
    if _words(sentences) > MAX_WORDS:
        sentences = _findings(by_label, female, order, rng, compact=True)
    if _words(sentences) < MIN_WORDS:
        sentences = _findings(by_label, female, order, rng, compact=False, keep_all=True)
    return Report(" ".join(s for _, s in sentences), _impressions(by_label, rng), sentences)


def _words(sentences) -> int:
    return sum(len(s.split()) for _, s in sentences)


def _findings(by_label, female: bool, order, rng, compact: bool, keep_all: bool = False):
    present = set(by_label)
    abnormal = {s: [] for s in order}
    for label, ds in by_label.items():
        for d, text in zip(ds if label == "Medical material" else ds[:1], POSITIVE[label](ds, rng)):
            abnormal[d.structure].append(text)
    normal = {s: [] for s in order}
    for topic in _normal_topics(present, rng):
        if topic.female_only and not female:
            continue
        if compact and (topic.optional or abnormal[topic.structure]):
            continue
        if topic.optional and not keep_all and rng.random() < 0.3:
            continue
        normal[topic.structure].append(topic.phrasings[0] if compact else _choice(rng, topic.phrasings))
    return [(s, t) for s in order for t in abnormal[s] + normal[s]]


def _normal_topics(present: set[str], rng):
    topics = [t for t in NORMAL_TOPICS if not t.rules_out & present]
    if not HEART_AND_VESSELS.rules_out & present and rng.random() < 0.5:
        topics = [t for t in topics if not t.rules_out or not t.rules_out <= HEART_AND_VESSELS.rules_out]
        topics.insert(1, HEART_AND_VESSELS)
    return topics


def _choice(rng, options):
    return options[int(rng.integers(len(options)))]


def _impressions(by_label, rng) -> str:
    if not by_label:
        return _choice(rng, _NORMAL_IMPRESSIONS)
    return " ".join(impression(label, by_label[label], rng) for label in _IMPRESSION_ORDER if label in by_label)
