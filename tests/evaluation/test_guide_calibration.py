"""Calibrating the observation guide: thresholds, the sentence bank, and a tiny model end to end."""

import pytest
import torch

from ctrg_desktop.evaluation.guide_calibration import _blank_specifics, best_threshold, calibrate_guide, sentence_bank


def test_best_threshold_maximises_f1_halfway_to_the_next_score():
    # >=0.9: F1 2/4; >=0.8: 4/5; >=0.7: 4/6; >=0.4: 6/7 (best); >=0.1: 6/8
    threshold, f1 = best_threshold([1, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.4, 0.1])
    assert threshold == pytest.approx(0.25) and f1 == pytest.approx(6 / 7)
    assert best_threshold([0, 0], [0.3, 0.2]) == (1.0, 0.0)


def test_sentence_bank_prefers_plain_single_finding_sentences_and_blanks_specifics():
    reports = [
        "Heart size is increased. No pleural effusion was detected. Bones are normal.",
        "Trachea is normal. Heart size is increased. Left pleural effusion of 12 mm is seen.",
        "Trachea is normal. Cardiomegaly and a small pleural effusion are seen.",
        "Left pleural effusion of 12 mm is seen. Heart size is increased.",
        "Heart size is normal. Bones are normal.",
    ]
    bank = sentence_bank(reports)
    # reports never negate cardiomegaly: its counterpart comes from the report without it
    assert bank["Cardiomegaly"][:2] == ("Heart size is increased.", "Heart size is normal.")
    # positions of the first mention: 0/3, 1/3, 1/2, 1/2
    assert bank["Cardiomegaly"][2] == pytest.approx((0 + 1 / 3 + 1 / 2 + 1 / 2) / 4)
    assert bank["Pleural effusion"][:2] == ("___ pleural effusion of ___ mm is seen.",
                                           "No pleural effusion was detected.")
    assert "Lung nodule" not in bank
    assert _blank_specifics("ratio of 0.6, a 12x8.5 mm node at T12 on the Right") == \
        "ratio of ___, a ___ mm node at T12 on the ___"


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("guide"), count=8, seed=5,
                            config=PhantomConfig((48, 64, 64), (6.0, 5.0, 5.0)), split=(0.5, 0.5, 0.0), workers=1)


def test_calibrate_guide_writes_a_guide_that_loading_and_registering_keep(phantoms, tmp_path, capsys):
    from ctrg_desktop.cli import main
    from ctrg_desktop.model import ModelConfig, StructureReportModel
    from ctrg_desktop.model.zoo import load_model, register_model

    torch.manual_seed(0)
    config = ModelConfig.tiny()
    config.observation.enabled = True
    model = StructureReportModel(config).eval()
    guide = calibrate_guide(model, phantoms, split="valid", min_auroc=0.0, min_positives=1)
    figures = guide.calibration["per_label"]
    assert guide.calibration["n_studies"] == 4 and set(figures) == set(config_labels())
    for label, g in guide.labels.items():
        assert figures[label]["auroc"] is not None and figures[label]["positives"] >= 1
        assert 0.0 <= g.threshold <= 1.0 and g.positive

    model.save_pretrained(tmp_path / "trained")
    assert main(["calibrate", "--model", str(tmp_path / "trained"), "--data", str(phantoms),
                 "--min-auroc", "0", "--min-positives", "1", "--quiet"]) == 0
    assert "labels guided; wrote" in capsys.readouterr().out
    loaded = load_model(tmp_path / "trained")
    assert loaded.observation_guide is not None and loaded.observation_guide.labels.keys() == guide.labels.keys()
    registered = register_model(tmp_path / "trained", "guided", zoo=tmp_path / "zoo")
    assert load_model(registered).observation_guide.labels.keys() == guide.labels.keys()


def config_labels():
    from ctrg_desktop.data.labels import CT_RATE_LABELS

    return CT_RATE_LABELS


def test_guide_figures_show_the_decoder_alone_beside_the_guided_reports():
    import numpy as np

    from ctrg_desktop.data.labels import CT_RATE_LABELS
    from ctrg_desktop.evaluation.runner import _guide_figures
    from ctrg_desktop.reports.cleanup import clean_text
    from ctrg_desktop.reports.observation_guide import LabelGuide, ObservationGuide

    heart = CT_RATE_LABELS.index("Cardiomegaly")
    guide = ObservationGuide({"Cardiomegaly": LabelGuide("Cardiomegaly", 0.5, "Heart size is increased.",
                                                         "Heart size is normal.", 0.0, 1.0, 1.0)})
    raw = ["heart size is normal.", "heart size is increased."]
    observed = np.zeros((2, 18))
    observed[:, heart] = 0.9
    generated = [clean_text(r, dict(zip(CT_RATE_LABELS, observed[i].tolist())), guide) for i, r in enumerate(raw)]
    assert generated == ["Heart size is increased.", "Heart size is increased."]
    ref = np.zeros((2, 18), dtype=int)
    ref[:, heart] = 1
    figures = _guide_figures(guide, raw, observed, ref, generated)
    assert figures["applied"] and figures["labels"] == ["Cardiomegaly"] and figures["reports_changed"] == 1
    # the decoder alone found one of the two: P 1, R 0.5
    assert figures["clinical_efficacy_without"]["micro"]["f1"] == pytest.approx(2 / 3)
    assert _guide_figures(None, raw, observed, ref, generated) == {"applied": False, "labels": []}
