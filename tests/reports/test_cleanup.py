"""Report clean-up: tokenizer artefacts, sentence case, a cut last sentence, repeats, contradictions."""

import pytest

from ctrg_desktop.reports.labeller import label_report
from ctrg_desktop.reports.cleanup import clean_report, clean_text, detokenize, sentence_case


@pytest.mark.parametrize("raw, clean", [
    ("plate - like atelectasis", "plate-like atelectasis"),
    ("( left anterior descending, circumflex and right )", "(left anterior descending, circumflex and right)"),
    ("pleural effusion - thickening was not detected .", "pleural effusion-thickening was not detected."),
    ("heart , lungs .  bones", "heart, lungs. bones"),
    ("a 23 x 16. 5 mm nodule", "a 23 x 16.5 mm nodule"),
    ("dated 26. 02. 2015 .", "dated 26.02.2015."),
    ("the patient ' s scan", "the patient's scan"),
    ("areas under - 950 hu", "areas under -950 hu"),
    ("emphysema in 5 - 10 % of the lung", "emphysema in 5-10% of the lung"),
    ("t1 / t2", "t1/t2"),
    ("Already clean, (really) 1,5 mm.", "Already clean, (really) 1,5 mm."),
])
def test_tokenizer_artefacts(raw, clean):
    assert detokenize(raw) == clean


def test_sentence_case_keeps_acronyms_and_units():
    assert sentence_case("calcification of the lad and rca at the t12 level, 3 mm, -950 hu on ct.") == \
        "Calcification of the LAD and RCA at the T12 level, 3 mm, -950 HU on CT."
    assert sentence_case("(bilateral) effusion.") == "(Bilateral) effusion."
    assert sentence_case("3 nodules.") == "3 nodules."
    assert sentence_case("ground-glass.") == "Ground-glass."


def test_a_full_report_reads_like_a_radiologist_wrote_it():
    raw = ("trachea and both main bronchi are open . plate - like atelectasis in the right lower lobe . "
           "calcified plaques in the coronary arteries ( lad, circumflex ) . a 23 x 16. 5 mm nodule in the "
           "left upper lobe . pleural effusion - thickening was not detected .")
    result = clean_report(raw)
    assert result.text == ("Trachea and both main bronchi are open. Plate-like atelectasis in the right lower lobe. "
                           "Calcified plaques in the coronary arteries (LAD, circumflex). A 23 x 16.5 mm nodule in the "
                           "left upper lobe. Pleural effusion-thickening was not detected.")
    assert result.warnings == [] and result.dropped == []
    assert clean_text(result.text) == result.text                           # idempotent


def test_a_cut_last_sentence_is_dropped():
    result = clean_report("heart size is normal. no pleural effusion was observed. there is a 5 mm nodule in the")
    assert result.text == "Heart size is normal. No pleural effusion was observed."
    assert result.dropped == ["There is a 5 mm nodule in the"]
    assert result.warnings == ["dropped the unfinished last sentence 'There is a 5 mm nodule in the' "
                               "(the length budget ran out)"]
    assert clean_report("").text == "" and clean_report("heart").text == ""


def test_repeated_sentences_keep_the_first():
    result = clean_report("heart size is normal. Heart size is normal . no effusion.")
    assert result.text == "Heart size is normal. No effusion."
    assert result.warnings == ["dropped a repeated sentence 'Heart size is normal.'"]


POSITIVE = "a 6 mm nodule is seen in the right upper lobe."
NEGATIVE = "no nodular lesion was observed in the lung parenchyma."


def test_contradiction_without_observations_keeps_the_positive_sentence():
    result = clean_report(f"{NEGATIVE} heart size is normal. {POSITIVE}")
    assert result.text == "Heart size is normal. A 6 mm nodule is seen in the right upper lobe."
    assert result.warnings == ["dropped 'No nodular lesion was observed in the lung parenchyma.' (contradicts "
                               "'A 6 mm nodule is seen in the right upper lobe.' on Lung nodule; no observation "
                               "for it: the positive statement is kept)"]
    assert label_report(result.text)["Lung nodule"] == 1


@pytest.mark.parametrize("p, kept", [(0.83, POSITIVE), (0.5, POSITIVE), (0.12, NEGATIVE)])
def test_contradiction_follows_the_observation(p, kept):
    result = clean_report(f"{POSITIVE} {NEGATIVE}", {"Lung nodule": p, "Emphysema": 0.9})
    assert result.text == sentence_case(kept)
    dropped = NEGATIVE if kept == POSITIVE else POSITIVE
    assert result.dropped == [sentence_case(dropped)]
    assert result.warnings == [f"dropped '{sentence_case(dropped)}' (contradicts '{sentence_case(kept)}' "
                               f"on Lung nodule; observation p={p:.2f})"]


def test_no_contradiction_no_change():
    text = "No pleural effusion was observed. Mild emphysema in both lungs. No pericardial effusion."
    assert clean_report(text, {"Pleural effusion": 0.9}).text == text      # different labels do not conflict


def test_the_labeller_reads_sentence_case():
    raw = "calcific plaques in the lad. mosaic attenuation pattern in both lungs."
    assert label_report(clean_text(raw)) == label_report(raw)
    assert label_report(clean_text(raw))["Coronary artery wall calcification"] == 1
