"""Retrieval-case figures against hand values."""

import numpy as np
import pytest

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.evaluation.retrieval_cases import (copy_rate, mean_neighbour_hamming, random_report_hamming,
                                                      rare_label_f1, rare_labels)


def test_mean_neighbour_hamming_by_hand():
    a = np.zeros((2, 18), dtype=int)
    b = a.copy()
    b[0, 3] = 3             # one label differs: 2
    b[1, 4], b[1, 7] = 1, 2  # two labels differ: 4
    assert mean_neighbour_hamming(a, b) == 3.0
    with pytest.raises(ValueError, match="one shape"):
        mean_neighbour_hamming(a, b[:1])


def test_random_report_hamming_skips_the_same_patient():
    studies = np.zeros((1, 18), dtype=int)
    train = np.zeros((3, 18), dtype=int)
    train[1, 0] = 3  # Hamming 2
    train[2, :3] = 3  # Hamming 6
    # train report 0 is the study's own patient: the draws pick 1 or 2, so every mean is 2 or 6
    mean, spread = random_report_hamming(studies, ["p"], train, ["p", "q", "r"], draws=200, seed=1)
    assert 2 < mean < 6 and spread == pytest.approx(2.0, abs=0.2)  # a fair coin between 2 and 6: sd 2
    one, zero = random_report_hamming(studies, ["p"], train[:2], ["p", "q"], draws=5)
    assert (one, zero) == (2.0, 0.0)
    with pytest.raises(ValueError, match="another patient"):
        random_report_hamming(studies, ["p"], train[:1], ["p"])


def test_copy_rate_by_hand():
    drafts = ["No pleural effusion. Heart size is normal.", "Emphysema is seen.  Bones are normal. Trachea is open."]
    retrieved = ["Heart size is normal. There is a nodule.", ["emphysema  is seen.", "Trachea is open."]]
    # draft 1: 1 of 2 sentences copied; draft 2: 2 of 3 (case and spacing aside) -> 3 of 5
    assert copy_rate(drafts, retrieved) == pytest.approx(3 / 5)
    assert copy_rate([""], ["x"]) is None
    with pytest.raises(ValueError, match="2 drafts but 1"):
        copy_rate(drafts, retrieved[:1])


def test_rare_labels_and_their_f1_by_hand():
    train = np.zeros((20, 18), dtype=int)
    train[:, :16] = 1            # 16 common labels
    train[:1, 16] = 1            # Bronchiectasis 5 %
    train[:2, 17] = 1            # Interlobular septal thickening 10 %: not rare (< 10 % is)
    assert rare_labels(train) == ["Bronchiectasis"]
    labels = ["Bronchiectasis", "Interlobular septal thickening"]
    ref = np.zeros((4, 18), dtype=int)
    pred = ref.copy()
    ref[:2, 16] = 1
    pred[0, 16] = 1             # Bronchiectasis: tp 1, fn 1 -> F1 2/3
    pred[3, 17] = 1             # septal: fp 1 -> F1 0
    out = rare_label_f1(pred, ref, labels)
    # micro: tp 1, fp 1, fn 1 -> precision 1/2, recall 1/2, F1 1/2
    assert out["micro_f1"] == pytest.approx(0.5)
    assert out["per_label"] == {"Bronchiectasis": pytest.approx(2 / 3), "Interlobular septal thickening": 0.0}
    assert rare_label_f1(pred, ref, []) == {"micro_f1": None, "per_label": {}}
    assert CT_RATE_LABELS[16] == "Bronchiectasis"
