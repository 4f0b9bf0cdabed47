"""CT-RATE style normal sentences, grouped by structure, each with the labels it rules out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NormalTopic:
    """Interchangeable phrasings of one normal statement about ``structure``.

    Usable only when none of ``rules_out`` is present; ``optional`` ones may be left out.
    """

    structure: str
    phrasings: tuple[str, ...]
    rules_out: frozenset = frozenset()
    optional: bool = False
    female_only: bool = False


def _t(structure, phrasings, rules_out=(), optional=False, female_only=False) -> NormalTopic:
    return NormalTopic(structure, tuple(phrasings), frozenset(rules_out), optional, female_only)


HEART_AND_VESSELS = _t("mediastinum and heart", (
    "Mediastinal main vascular structures, heart contour, size are normal.",
    "Heart contour and size and the mediastinal main vascular structures are normal.",
    "Calibration of the mediastinal main vascular structures is natural and heart size is normal.",
), ("Cardiomegaly", "Arterial wall calcification"))

NORMAL_TOPICS: tuple[NormalTopic, ...] = (
    _t("trachea and bronchi", (
        "Trachea and lumen of both main bronchi are open.",
        "Trachea and both main bronchi are patent.",
        "Trachea and main bronchi are normal in calibre and no obstructive lesion was detected in their lumen.",
    )),
    _t("mediastinum and heart", (
        "Heart size is normal.", "Heart contour and size are within normal limits.", "The heart is of normal size.",
    ), ("Cardiomegaly",)),
    _t("mediastinum and heart", (
        "Thoracic aorta diameter is normal.", "Mediastinal main vascular structures are of normal calibre.",
        "Calibration of the thoracic aorta is normal.",
    ), ("Arterial wall calcification",), optional=True),
    _t("mediastinum and heart", (
        "Pericardial effusion-thickening was not observed.", "No pericardial effusion or thickening was detected.",
        "Pericardial effusion was not detected.",
    ), ("Pericardial effusion",), optional=True),
    _t("mediastinum and heart", (
        "No lymph node was detected in the mediastinum in pathological size and appearance.",
        "No enlarged lymph nodes were detected in the mediastinal and hilar regions.",
        "Mediastinal lymph nodes are not enlarged.",
    ), ("Lymphadenopathy",)),
    _t("mediastinum and heart", (
        "No calcified plaque was observed in the coronary arteries.",
        "Coronary arteries show no calcification.",
        "No calcification was detected along the coronary arteries.",
    ), ("Coronary artery wall calcification",), optional=True),
    _t("esophagus", (
        "Thoracic esophagus calibration was normal and no significant tumoral wall thickening was detected.",
        "Esophagus is normal in course and calibre.",
        "No wall thickening was observed in the thoracic esophagus.",
    ), ("Hiatal hernia",)),
    _t("thyroid", (
        "Thyroid gland sizes are normal.", "Thyroid gland is of normal size and density.",
        "The thyroid gland included in the sections is normal.",
    )),
    _t("breast and chest wall", (
        "No mass lesion was detected in both breasts.", "Breast tissue is of normal appearance on both sides.",
        "Both breasts are unremarkable.",
    ), female_only=True, optional=True),
    _t("breast and chest wall", (
        "No pathological finding was observed in the chest wall.", "Soft tissues of the thoracic wall are normal.",
        "No lymphadenopathy was detected in both axillae.",
    )),
    _t("lung", (
        "No mass or nodule was detected in both lungs.", "No nodular lesion was observed in the lung parenchyma.",
        "No pulmonary nodule or mass was detected.",
    ), ("Lung nodule",)),
    _t("lung", (
        "No pneumonic infiltration or consolidation was detected in the lungs.",
        "No active infiltration was observed in the lung parenchyma.",
        "No consolidation or ground-glass opacity was observed in the lungs.",
    ), ("Consolidation", "Lung opacity")),
    _t("lung", (
        "Lung aeration is normal.", "Both lungs are normally aerated.", "Ventilation of both lungs is normal.",
    ), ("Emphysema", "Mosaic attenuation pattern", "Atelectasis", "Consolidation", "Lung opacity"), optional=True),
    _t("lung", (
        "No emphysematous changes were observed in the lungs.", "Emphysema was not detected in the lungs.",
        "There is no emphysema in either lung.",
    ), ("Emphysema",), optional=True),
    _t("lung", (
        "No interstitial or fibrotic changes were observed in the lungs.",
        "Lung interstitium is normal and no fibrotic change was detected.",
        "No fibrotic or reticular change was observed in the lung parenchyma.",
    ), ("Pulmonary fibrotic sequela", "Interlobular septal thickening"), optional=True),
    _t("pleura", (
        "Pleural effusion-thickening was not detected.", "No pleural effusion or thickening was observed.",
        "No pleural effusion or pneumothorax was detected.",
    ), ("Pleural effusion",)),
    _t("abdomen", (
        "In the upper abdominal sections within the scan, the liver and spleen are of normal size and density.",
        "No pathological finding was observed in the upper abdominal organs within the sections.",
        "Visible parts of the liver, spleen and stomach are unremarkable.",
    )),
    _t("bone", (
        "No lytic-destructive lesions were detected in the bone structures within the sections.",
        "Bone structures within the sections are normal.",
        "No lytic or blastic lesion was observed in the bones in the scan area.",
    )),
    _t("others", (
        "Neural foramina are open.", "No pathological finding was observed in the visible scalene regions.",
        "Image quality is appropriate for evaluation.",
    )),
)
