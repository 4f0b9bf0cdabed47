"""The rule-based CT-RATE labeller on CT-RATE-style sentences: terms, negation, uncertainty."""

import pytest

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.reports.labeller import Mention, label_report, mentions

NORMAL = (
    "Trachea and lumen of both main bronchi are open. No occlusive pathology was detected in the "
    "trachea and lumen of both main bronchi. Mediastinal main vascular structures, heart contour, "
    "size are normal. Pericardial effusion-thickening was not observed. No lymph node in pathological "
    "size and appearance was detected in the mediastinum and hilar regions. No mass or infiltrative "
    "lesion was detected in both lungs. Pleural effusion-thickening was not detected. Thyroid gland "
    "sizes are normal. No lytic-destructive lesions were detected in the bone structures."
)


def test_normal_report_has_no_labels():
    assert sum(label_report(NORMAL).values()) == 0
    assert list(label_report(NORMAL)) == list(CT_RATE_LABELS)


@pytest.mark.parametrize("sentence, label", [
    ("A pacemaker is seen with its lead in the right ventricle.", "Medical material"),
    ("Sternotomy wires are present.", "Medical material"),
    ("Calcific atherosclerotic changes were observed in the aorta and coronary arteries.", "Arterial wall calcification"),
    ("Calcific atherosclerotic changes were observed in the aorta and coronary arteries.", "Coronary artery wall calcification"),
    ("Calcified plaques in the LAD.", "Coronary artery wall calcification"),
    ("Heart size increased.", "Cardiomegaly"),
    ("The heart is enlarged.", "Cardiomegaly"),
    ("Pericardial effusion reaching 12 mm in its thickest part was observed.", "Pericardial effusion"),
    ("Minimal hiatal hernia was observed.", "Hiatal hernia"),
    ("Mediastinal lymph nodes with a short axis of 15 mm were observed, consistent with lymphadenopathy.", "Lymphadenopathy"),
    ("Enlarged lymph nodes are seen in the right hilum.", "Lymphadenopathy"),
    ("Mild emphysematous changes were observed in both lungs.", "Emphysema"),
    ("Subsegmental atelectasis is seen in the left lower lobe.", "Atelectasis"),
    ("A 7 mm nodule in the right upper lobe of the lung.", "Lung nodule"),
    ("Ground-glass opacities in both lungs.", "Lung opacity"),
    ("Fibrotic sequelae changes in the left lung.", "Pulmonary fibrotic sequela"),
    ("Pleural effusion measuring 20 mm on the right.", "Pleural effusion"),
    ("Mosaic attenuation pattern in both lungs.", "Mosaic attenuation pattern"),
    ("Peribronchial thickening is present in the lower lobes.", "Peribronchial thickening"),
    ("Consolidation areas in the right lower lobe of the lung.", "Consolidation"),
    ("Cylindrical bronchiectasis in both lower lobes.", "Bronchiectasis"),
    ("Interlobular septal thickening in the lung periphery.", "Interlobular septal thickening"),
])
def test_positive_sentences(sentence, label):
    labels = label_report(sentence)
    assert labels[label] == 1, sentence


@pytest.mark.parametrize("sentence, label", [
    ("No pleural effusion was detected.", "Pleural effusion"),
    ("Pleural effusion-thickening was not detected.", "Pleural effusion"),
    ("There is no evidence of consolidation.", "Consolidation"),
    ("Emphysema is not seen.", "Emphysema"),
    ("Without any nodule in either lung.", "Lung nodule"),
    ("Neither atelectasis nor consolidation is seen.", "Consolidation"),
    ("The thyroid nodule measures 8 mm.", "Lung nodule"),  # not a lung nodule
    ("The heart is not enlarged.", "Cardiomegaly"),
    ("Calcification in the coronary arteries.", "Arterial wall calcification"),  # coronary only
    ("Lymph nodes with a short axis of 6 mm.", "Lymphadenopathy"),  # normal size
    ("Coronary arteries show no calcification.", "Coronary artery wall calcification"),  # cue inside the term
    ("Mediastinal lymph nodes are not enlarged.", "Lymphadenopathy"),
])
def test_negative_sentences(sentence, label):
    assert label_report(sentence)[label] == 0, sentence


def test_negation_scope_is_the_clause():
    text = "No pleural effusion, but a 5 mm nodule in the right lung; no consolidation and a small hiatal hernia."
    labels = label_report(text)
    assert labels["Pleural effusion"] == 0 and labels["Consolidation"] == 0
    assert labels["Lung nodule"] == 1 and labels["Hiatal hernia"] == 1


def test_uncertainty():
    text = "Possible minimal consolidation in the left lower lobe."
    assert mentions(text)["Consolidation"] == Mention.UNCERTAIN
    assert label_report(text)["Consolidation"] == 1
    assert label_report(text, uncertain_as=0)["Consolidation"] == 0
    assert mentions("Atelectasis cannot be excluded.")["Atelectasis"] == Mention.UNCERTAIN


def test_positive_beats_negated_across_sentences():
    text = "No emphysema in the right lung. Paraseptal emphysema in the left upper lobe."
    assert label_report(text)["Emphysema"] == 1


def test_no_normal_phrasing_of_the_phantoms_states_a_label():
    """Every sentence the synthetic studies write for a normal finding reads as no finding (else the
    evaluation counts it as one and the report clean-up keeps it beside the finding it negates)."""
    from ctrg_desktop.data.phantoms.normal_text import NORMAL_TOPICS

    stated = {s: [k for k, m in mentions(s).items() if m >= Mention.UNCERTAIN]
              for topic in NORMAL_TOPICS for s in topic.phrasings}
    assert {s: labels for s, labels in stated.items() if labels} == {}
