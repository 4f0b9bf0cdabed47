"""Diversity: distinct reports/sentences and mean pairwise similarity."""

import pytest

from ctrg_desktop.evaluation.diversity import diversity, mean_pairwise_similarity


def test_same_report_everywhere():
    out = diversity(["Heart size is normal. No nodule."] * 5)
    assert out["distinct_reports"] == pytest.approx(0.2) and out["n_distinct_reports"] == 1
    assert out["n_sentences"] == 10 and out["distinct_sentences"] == pytest.approx(0.2)
    assert out["mean_pairwise_similarity"] == pytest.approx(1.0)


def test_distinct_reports():
    reports = ["Heart size is normal. No nodule.", "Emphysema in both lungs. No nodule.",
               "heart size is normal!  no nodule"]            # same as the first after normalisation
    out = diversity(reports)
    assert out["n_distinct_reports"] == 2 and out["distinct_reports"] == pytest.approx(2 / 3)
    assert out["n_sentences"] == 6 and out["n_distinct_sentences"] == 3
    assert 0.0 < out["mean_pairwise_similarity"] < 1.0
    assert out["vocabulary"] == 10 and out["mean_length"] == pytest.approx(6.0)


def test_pairwise_similarity_known_values():
    assert mean_pairwise_similarity(["a b", "c d"]) == 0.0
    assert mean_pairwise_similarity(["a", "a", "b"]) == pytest.approx(1 / 3)
    assert mean_pairwise_similarity(["only one"]) is None
    assert mean_pairwise_similarity(["", ""]) == 1.0
    sampled = mean_pairwise_similarity([f"w{i % 7} x" for i in range(50)], max_reports=20)
    assert 0.5 < sampled < 1.0


def test_empty_set_and_bad_input():
    out = diversity([])
    assert out["n_reports"] == 0 and out["distinct_reports"] == 0.0 and out["mean_pairwise_similarity"] is None
    with pytest.raises(ValueError):
        diversity("one report")
