"""Clinical efficacy: micro/per-label P/R/F1 on hand-made label sets with known counts."""

import numpy as np
import pytest

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.evaluation.clinical import (as_label_array, clinical_efficacy, clinical_efficacy_from_reports,
                                              label_reports)

L = len(CT_RATE_LABELS)


def _rows(*positives):
    out = np.zeros((len(positives), L), dtype=int)
    for r, labels in enumerate(positives):
        for name in labels:
            out[r, CT_RATE_LABELS.index(name)] = 1
    return out


def test_known_counts():
    # report 0: pred {Emphysema, Cardiomegaly}, ref {Emphysema}             -> tp 1, fp 1
    # report 1: pred {},                     ref {Lung nodule, Emphysema}   -> fn 2
    # report 2: pred {Lung nodule},          ref {Lung nodule}              -> tp 1
    pred = _rows({"Emphysema", "Cardiomegaly"}, set(), {"Lung nodule"})
    ref = _rows({"Emphysema"}, {"Lung nodule", "Emphysema"}, {"Lung nodule"})
    out = clinical_efficacy(pred, ref)
    assert out["counts"] == {"tp": 2, "fp": 1, "fn": 2, "tn": 3 * L - 5}
    assert out["micro"]["precision"] == pytest.approx(2 / 3)
    assert out["micro"]["recall"] == pytest.approx(2 / 4)
    assert out["micro"]["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    emph, nod, card = (out["per_label"][k] for k in ("Emphysema", "Lung nodule", "Cardiomegaly"))
    assert (emph["precision"], emph["recall"], emph["support"], emph["predicted"]) == (1.0, 0.5, 2, 1)
    assert (nod["precision"], nod["recall"], nod["f1"], nod["support"]) == (1.0, 0.5, pytest.approx(2 / 3), 2)
    assert (card["precision"], card["recall"], card["f1"], card["support"]) == (0.0, 0.0, 0.0, 0)
    assert out["per_label"]["Atelectasis"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0,
                                               "predicted": 0, "tp": 0}
    assert out["macro"]["f1"] == pytest.approx((2 / 3 + 2 / 3) / L)
    assert out["n_reports"] == 3 and list(out["per_label"]) == list(CT_RATE_LABELS)


def test_perfect_and_empty_predictions():
    ref = _rows({"Emphysema"}, {"Pleural effusion", "Consolidation"})
    assert clinical_efficacy(ref, ref)["micro"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    none = clinical_efficacy(np.zeros_like(ref), ref)
    assert none["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0} and none["counts"]["fn"] == 3


def test_dict_rows_equal_arrays():
    ref = _rows({"Emphysema"}, {"Hiatal hernia"})
    dicts = [dict(zip(CT_RATE_LABELS, map(int, row))) for row in ref]
    assert (as_label_array(dicts) == ref).all()
    assert clinical_efficacy(dicts, ref)["micro"]["f1"] == 1.0
    with pytest.raises(ValueError, match="lack 'Medical material'"):
        as_label_array([{"Cardiomegaly": 1}])


def test_bad_shapes_and_values():
    with pytest.raises(ValueError, match="shape"):
        clinical_efficacy(np.zeros((2, 5)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="reference label rows"):
        clinical_efficacy(np.zeros((2, L)), np.zeros((3, L)))
    with pytest.raises(ValueError, match="0 or 1"):
        clinical_efficacy(np.full((1, L), 2), np.zeros((1, L)))


def test_from_reports_with_the_labeller():
    generated = ["Mild emphysematous changes were observed in both lungs. Pleural effusion was not observed.",
                 "Heart size increased."]
    references = ["Emphysema in both lungs. Bilateral pleural effusion.", "No cardiomegaly."]
    labels = label_reports(generated)
    assert labels.shape == (2, L)
    assert labels[0, CT_RATE_LABELS.index("Emphysema")] == 1
    assert labels[0, CT_RATE_LABELS.index("Pleural effusion")] == 0
    out = clinical_efficacy_from_reports(generated, references)
    assert out["reference_source"] == "labeller"
    assert out["counts"]["tp"] == 1 and out["counts"]["fp"] == 1 and out["counts"]["fn"] == 1
    given = clinical_efficacy_from_reports(generated, reference_labels=label_reports(references))
    assert given["reference_source"] == "dataset" and given["micro"] == out["micro"]
    with pytest.raises(ValueError):
        clinical_efficacy_from_reports(generated)
