"""Report-to-volume Recall@K on constructed similarity matrices."""

import numpy as np
import pytest

from ctrg_desktop.evaluation.retrieval import cosine_structure_similarity, recall_at_k, retrieval_ranks


def test_identity_gives_perfect_recall():
    out = recall_at_k(np.eye(200))
    assert out["recall@10"] == out["recall@50"] == out["recall@100"] == 1.0
    assert out["mean_rank"] == 1.0 and out["n_reports"] == out["n_volumes"] == 200


def test_random_similarity_gives_chance():
    sim = np.random.default_rng(0).standard_normal((2000, 1000))
    targets = np.arange(2000) % 1000
    out = recall_at_k(sim, targets=targets)
    for k in (10, 50, 100):
        assert out[f"recall@{k}"] == pytest.approx(k / 1000, abs=0.015 + k / 4000)
        assert out[f"chance@{k}"] == k / 1000
    assert out["mean_rank"] == pytest.approx(500, rel=0.1)


def test_k_capped_at_the_number_of_volumes():
    sim = np.random.default_rng(1).standard_normal((30, 30))
    out = recall_at_k(sim)
    assert out["effective_k"] == {"recall@10": 10, "recall@50": 30, "recall@100": 30}
    assert out["recall@50"] == out["recall@100"] == 1.0


def test_known_ranks_and_pessimistic_ties():
    sim = np.array([[0.9, 0.1, 0.5],
                    [0.8, 0.7, 0.9],     # own volume (1) is third
                    [0.2, 0.2, 0.2]])    # all tied: counted as last
    assert retrieval_ranks(sim).tolist() == [0, 2, 2]
    out = recall_at_k(sim, ks=(1, 2, 3))
    assert out["recall@1"] == pytest.approx(1 / 3) and out["recall@2"] == pytest.approx(1 / 3)
    assert out["recall@3"] == 1.0
    collapsed = recall_at_k(np.ones((50, 50)), ks=(10,))
    assert collapsed["recall@10"] == 0.0  # a collapsed model is not rewarded by ties


def test_bad_inputs():
    with pytest.raises(ValueError, match="give targets"):
        recall_at_k(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="targets"):
        recall_at_k(np.zeros((2, 3)), targets=[0, 3])
    with pytest.raises(ValueError, match="at least 1"):
        recall_at_k(np.eye(3), ks=(0,))
    with pytest.raises(ValueError, match="NaN"):
        recall_at_k(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="matrix"):
        recall_at_k(np.zeros(4))


def test_structure_cosine_similarity():
    rng = np.random.default_rng(2)
    image = rng.standard_normal((6, 10, 8))
    text = image * 3.0                                   # same directions, other norms
    sim = cosine_structure_similarity(text, image)
    assert sim.shape == (6, 6) and np.allclose(np.diag(sim), 1.0)
    assert recall_at_k(sim, ks=(1,))["recall@1"] == 1.0
    # structure 0 only: equal to that structure's cosine
    one = cosine_structure_similarity(text, image, structures=[0])
    t0 = text[:, 0] / np.linalg.norm(text[:, 0], axis=-1, keepdims=True)
    v0 = image[:, 0] / np.linalg.norm(image[:, 0], axis=-1, keepdims=True)
    assert np.allclose(one, t0 @ v0.T)
    with pytest.raises(ValueError):
        cosine_structure_similarity(text[:, :5], image)
