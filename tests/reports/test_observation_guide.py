"""The observation guide: each guided label stated as its head decides, every change a warning."""

import json

import pytest

from ctrg_desktop.reports.cleanup import clean_report
from ctrg_desktop.reports.observation_guide import (GUIDE_NAME, LabelGuide, ObservationGuide, apply_guide,
                                                    load_guide, similarity)

HEART = LabelGuide("Cardiomegaly", 0.4, "Heart size is increased.", "", 0.5, 0.99, 0.95)
EFFUSION = LabelGuide("Pleural effusion", 0.3, "Pleural effusion was detected.",
                      "No pleural effusion or pneumothorax was detected.", 1.0, 0.93, 0.84)
GUIDE = ObservationGuide({g.label: g for g in (HEART, EFFUSION)})
REPORT = ["Trachea is normal.", "Heart is normal.", "No nodule was observed.", "Bones are normal."]


def test_a_sure_finding_the_decoder_missed_is_added_where_training_reports_put_it():
    out, warnings = apply_guide(REPORT, {"Cardiomegaly": 0.9, "Pleural effusion": 0.1}, GUIDE)
    # position 0.5 of 4 sentences: inserted at index 2
    assert out == [*REPORT[:2], "Heart size is increased.", *REPORT[2:]]
    assert warnings == ["added 'Heart size is increased.' (Cardiomegaly: observation p=0.90 >= 0.40; "
                        "the decoder did not state it)"]


def test_a_sentence_that_negates_a_sure_finding_is_replaced():
    report = ["No pleural effusion or pneumothorax was detected.", "Bones are normal.",
              "There is no pleural effusion."]
    out, warnings = apply_guide(report, {"Pleural effusion": 0.8}, GUIDE)
    assert out == ["Pleural effusion was detected.", "Bones are normal."]
    assert warnings[0].startswith("replaced 'No pleural effusion or pneumothorax was detected.' by "
                                  "'Pleural effusion was detected.' (Pleural effusion: observation p=0.80 >= 0.30)")
    assert warnings[1].startswith("dropped 'There is no pleural effusion.'")


def test_a_finding_the_head_rules_out_is_replaced_by_its_negative_sentence_or_dropped():
    report = ["Left pleural effusion is seen.", "Heart size is increased.", "Small pleural effusion on the right."]
    out, warnings = apply_guide(report, {"Pleural effusion": 0.05, "Cardiomegaly": 0.1}, GUIDE)
    # effusion: first statement replaced by the negative sentence, the second dropped;
    # cardiomegaly has no negative sentence: dropped
    assert out == ["No pleural effusion or pneumothorax was detected."]
    assert sorted(w.split("' ")[0] for w in warnings) == [
        "dropped 'Heart size is increased.", "dropped 'Small pleural effusion on the right.",
        "replaced 'Left pleural effusion is seen."]
    assert sum("p=0.05 < 0.30" in w for w in warnings) == 2 and sum("p=0.10 < 0.40" in w for w in warnings) == 1


def test_agreeing_heads_unguided_labels_and_no_guide_change_nothing():
    report = ["Heart size is increased.", "A nodule is seen."]
    assert apply_guide(report, {"Cardiomegaly": 0.9, "Lung nodule": 0.0}, GUIDE) == (report, [])
    assert apply_guide(report, {"Cardiomegaly": 0.0}, None) == (report, [])
    assert apply_guide(report, None, GUIDE) == (report, [])


def test_the_normal_counterpart_of_a_label_that_reports_never_negate_is_replaced_both_ways():
    heart = LabelGuide("Cardiomegaly", 0.4, "Heart size is increased.", "Heart size is normal.", 0.0, 0.99, 0.95)
    guide = ObservationGuide({"Cardiomegaly": heart})
    out, warnings = apply_guide(["Trachea is normal.", "heart size is normal."], {"Cardiomegaly": 0.7}, guide)
    assert out == ["Trachea is normal.", "Heart size is increased."] and warnings[0].startswith("replaced")
    # the same statement in other words counts too (content-word overlap 1.0 here)
    out, _ = apply_guide(["The heart is of normal size.", "Trachea is normal."], {"Cardiomegaly": 0.7}, guide)
    assert out == ["Heart size is increased.", "Trachea is normal."]
    out, _ = apply_guide(["Heart size is increased.", "Trachea is normal."], {"Cardiomegaly": 0.2}, guide)
    assert out == ["Heart size is normal.", "Trachea is normal."]


def test_clean_report_applies_the_guide_after_the_clean_up():
    cleaned = clean_report("heart is normal. no nodule was observed.", {"Cardiomegaly": 0.95}, GUIDE)
    assert cleaned.text == "Heart is normal. Heart size is increased. No nodule was observed."
    assert any(w.startswith("added 'Heart size is increased.'") for w in cleaned.warnings)
    assert clean_report("heart is normal.", {"Cardiomegaly": 0.95}).text == "Heart is normal."


def test_guide_file_round_trip_and_damage(tmp_path):
    guide = ObservationGuide({"Cardiomegaly": HEART}, min_auroc=0.9, calibration={"split": "valid"})
    path = guide.save(tmp_path)
    assert path == tmp_path / GUIDE_NAME
    again = load_guide(tmp_path)
    assert again.labels == guide.labels and again.min_auroc == 0.9 and again.calibration == {"split": "valid"}
    assert load_guide(tmp_path / "nowhere") is None
    path.write_text("{not json")
    with pytest.raises(ValueError, match="damaged"):
        load_guide(tmp_path)
    path.write_text(json.dumps({"version": 1, "labels": [{"label": "x"}]}))
    with pytest.raises(ValueError, match="damaged"):
        load_guide(tmp_path)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="not a version-1"):
        load_guide(tmp_path)


def test_similarity_is_the_overlap_of_content_words():
    assert similarity("The heart is of normal size.", "Heart size is normal.") == 1.0
    # {heart, size, normal} vs {heart, size, increased}: 2 of 4
    assert similarity("Heart size is normal.", "Heart size is increased.") == 0.5
    assert similarity("", "") == 0.0
