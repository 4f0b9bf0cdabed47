"""NLG metrics (BLEU, METEOR, ROUGE-L, CIDEr) on pairs with known answers."""

import pytest

from ctrg_desktop.evaluation import nlg
from ctrg_desktop.evaluation.nlg import NLG_KEYS, nlg_metrics, normalise, rouge_l, tokenize

SAME = ["Trachea and lumen of both main bronchi are open. Heart size increased.",
        "Mild emphysematous changes were observed in both lungs. Minimal hiatal hernia was observed.",
        "Pleural effusion-thickening was not detected. No lymphadenopathy."]
UNRELATED = ["Bananas ripen quickly on warm kitchen counters.",
             "The orchestra tuned violins before seven o'clock.",
             "Submarine sandwiches taste better with pickles."]


def test_tokenize_is_ptb_like():
    assert tokenize("Heart size INCREASED, (mild)!") == ["heart", "size", "increased", "mild"]
    assert tokenize("A 23x16.5 mm nodule on 26.02.2015; effusion-thickening.") == [
        "a", "23x16.5", "mm", "nodule", "on", "26.02.2015", "effusion-thickening"]
    assert normalise("  No   nodule.\nNone. ") == "no nodule none"
    assert tokenize("") == [] and tokenize(None) == []


@pytest.fixture(scope="module")
def scores():
    """One METEOR process for the module: identical pairs then unrelated pairs."""
    return nlg_metrics(SAME + SAME, SAME + UNRELATED, per_report=True)


@pytest.mark.slow
def test_identical_and_unrelated(scores):
    per = scores["per_report"]
    assert set(NLG_KEYS) <= set(scores) and scores["n"] == 6 and "warnings" not in scores
    for i in range(3):                                       # identical pairs
        assert per["BLEU-4"][i] == pytest.approx(1.0, abs=1e-6)
        assert per["ROUGE-L"][i] == pytest.approx(1.0)
        assert per["METEOR"][i] > 0.9
    for i in range(3, 6):                                    # unrelated pairs
        assert per["BLEU-4"][i] < 0.01 and per["ROUGE-L"][i] < 0.2 and per["METEOR"][i] < 0.2
        assert per["CIDEr"][i] < 0.1
    assert 0.0 <= scores["METEOR"] <= 1.0
    assert all(0.0 <= scores[k] <= 1.0 for k in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L"))


def test_identical_corpus_scores_without_meteor():
    out = nlg_metrics(SAME, SAME, meteor=False)
    assert out["BLEU-1"] == pytest.approx(1.0) and out["BLEU-4"] == pytest.approx(1.0, abs=1e-6)
    assert out["ROUGE-L"] == pytest.approx(1.0) and out["CIDEr"] > 1.0
    assert out["METEOR"] is None and out["warnings"] == ["METEOR skipped (disabled)"]


def test_unrelated_corpus_scores_are_low():
    out = nlg_metrics(SAME, UNRELATED, meteor=False)
    assert out["BLEU-4"] < 0.01 and out["ROUGE-L"] < 0.2 and out["CIDEr"] < 0.1


def test_punctuation_and_case_do_not_matter():
    a = nlg_metrics(["Heart size increased. No nodule."], ["heart size increased no nodule"], meteor=False)
    assert a["BLEU-4"] == pytest.approx(1.0, abs=1e-6) and a["ROUGE-L"] == pytest.approx(1.0)


def test_empty_reports_do_not_crash():
    score, per = rouge_l(["heart normal", "", ""], ["", "lung", ""])
    assert per == [0.0, 0.0, 1.0] and score == pytest.approx(1 / 3)
    out = nlg_metrics(["heart normal", "lung"], ["", ""], meteor=False)
    assert out["BLEU-1"] < 1e-6 and out["ROUGE-L"] == 0.0


def test_missing_java_skips_meteor_with_a_warning(monkeypatch):
    monkeypatch.setattr(nlg.shutil, "which", lambda name: None)
    out = nlg_metrics(SAME, SAME)
    assert out["METEOR"] is None and out["BLEU-4"] == pytest.approx(1.0, abs=1e-6)
    assert len(out["warnings"]) == 1 and "Java is not installed" in out["warnings"][0]


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        nlg_metrics(["a", "b"], ["a"], meteor=False)
    with pytest.raises(ValueError, match="no reports"):
        nlg_metrics([], [], meteor=False)
    with pytest.raises(ValueError, match="lists of strings"):
        nlg_metrics("a b", "a b", meteor=False)


def test_failing_meteor_jar_skips_meteor_with_a_warning(monkeypatch):
    from pycocoevalcap.meteor import meteor

    monkeypatch.setattr(meteor, "METEOR_JAR", "no-such-meteor.jar")
    out = nlg_metrics(SAME[:1], SAME[:1])
    assert out["METEOR"] is None and out["warnings"][0].startswith("METEOR skipped: METEOR failed")
    assert out["ROUGE-L"] == pytest.approx(1.0)
