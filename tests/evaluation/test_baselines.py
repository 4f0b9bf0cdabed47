"""Model-free baselines: the most common and random training reports, scored like a model."""

import numpy as np
import pytest

from ctrg_desktop.evaluation.baselines import most_common_report, report_baselines
from ctrg_desktop.evaluation.clinical import label_reports

NORMAL = "No pleural effusion was observed. Heart size is normal."
NODULE = "A 6 mm nodule is seen in the right upper lobe. Heart size is normal."
EFFUSION = "Pleural effusion is seen on the right. Heart size is normal."


def test_most_common_report():
    assert most_common_report([NODULE, NORMAL, NORMAL, "", EFFUSION]) == (NORMAL, 2)
    assert most_common_report([NODULE, EFFUSION]) == (NODULE, 1)              # all distinct: the first
    with pytest.raises(ValueError, match="no non-empty"):
        most_common_report(["", "  "])


def test_baselines_score_like_a_model():
    train = [NORMAL, NORMAL, NODULE, EFFUSION]
    references = [NODULE, EFFUSION, NORMAL]
    ref_labels = label_reports(references)
    out = report_baselines(train, ref_labels, references, draws=20, seed=0)
    common = out["most_common_report"]
    assert common["report"] == NORMAL and common["count"] == 2 and out["n_train_reports"] == 4
    assert common["clinical_efficacy"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}  # a normal report finds nothing
    assert set(common["nlg"]) == {"BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr"} and common["nlg"]["BLEU-1"] > 0
    rand = out["random_train_report"]
    assert rand["draws"] == 20 and rand["seed"] == 0
    f1 = rand["clinical_efficacy"]["f1"]
    assert 0.0 < f1["mean"] < 1.0 and f1["std"] > 0                         # some draws hit, some miss
    assert set(rand["nlg"]) == set(common["nlg"]) and all(set(v) == {"mean", "std"} for v in rand["nlg"].values())
    assert report_baselines(train, ref_labels, references, draws=20, seed=0) == out    # seeded


def test_a_perfect_pool_scores_one():
    out = report_baselines([NODULE], label_reports([NODULE, NODULE]), draws=3)
    assert out["most_common_report"]["clinical_efficacy"]["f1"] == 1.0
    assert out["random_train_report"]["clinical_efficacy"]["f1"] == {"mean": 1.0, "std": 0.0}
    assert "nlg" not in out["most_common_report"]                           # no reference texts: CE only


def test_bad_input():
    with pytest.raises(ValueError, match="references but"):
        report_baselines([NODULE], np.zeros((2, 18), int), [NODULE])
    with pytest.raises(ValueError, match="draws"):
        report_baselines([NODULE], np.zeros((1, 18), int), draws=0)
