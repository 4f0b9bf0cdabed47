"""The retriever's ranking target and loss by hand, and a tiny training run on CPU."""

import math

import numpy as np
import pytest
import torch

from ctrg_desktop.retrieval.retriever import RetrieverConfig, ranking_loss, ranking_targets, train_retriever
from ctrg_desktop.retrieval.status import hamming, one_hot


def _tiny_set():
    s = np.zeros((4, 18), dtype=np.int64)
    s[2, 2] = 3               # study 2: cardiomegaly positive       (Hamming 2 from study 0)
    s[3, 2], s[3, 5] = 3, 1   # study 3: + hiatal hernia negated      (4 from study 0, 2 from study 2)
    return torch.from_numpy(one_hot(s)), ["A", "A", "B", "C"]  # studies 0 and 1 are one patient


def test_ranking_targets_on_a_tiny_hand_made_set():
    vectors, patients = _tiny_set()
    targets, valid = ranking_targets(vectors, patients)
    # row 0: candidates 2, 3 (1 is the same patient) at Hamming 2, 4 -> study 2
    # row 1: the same; row 2: candidates 0, 1, 3 all at Hamming 2 -> a third each; row 3: 0, 1 at 4, 2 at 2 -> 2
    assert np.allclose(targets.numpy(), [[0, 0, 1, 0], [0, 0, 1, 0], [1 / 3, 1 / 3, 0, 1 / 3], [0, 0, 1, 0]])
    assert valid.tolist() == [[False, False, True, True], [False, False, True, True],
                              [True, True, False, True], [True, True, True, False]]
    # equal distances: CE of a one-hot target over k candidates is log k, of the uniform tie target log 3 too
    loss = ranking_loss(torch.zeros(4, 4), targets, valid, temperature=0.5)
    assert float(loss) == pytest.approx((math.log(2) * 2 + math.log(3) * 2) / 4)
    # the target's distance made smaller lowers the loss; the same patient's distance does not matter
    closer = torch.ones(4, 4)
    closer[0, 2] = 0.0
    assert float(ranking_loss(closer, targets, valid, 0.5)) < float(ranking_loss(torch.ones(4, 4), targets, valid, 0.5))
    same = torch.ones(4, 4)
    same[0, 1] = -100.0
    assert float(ranking_loss(same, targets, valid, 0.5)) == pytest.approx(float(ranking_loss(torch.ones(4, 4),
                                                                                             targets, valid, 0.5)))
    # a lone patient has no candidate: its row is all zero and left out
    t, v = ranking_targets(vectors[:2], ["A", "A"])
    assert t.sum() == 0 and not v.any() and float(ranking_loss(torch.zeros(2, 2), t, v, 0.5)) == 0.0


def _synthetic(n=240, seed=0):
    """Studies whose logits are a noisy mixed-up function of their label statuses."""
    rng = np.random.default_rng(seed)
    statuses = np.where(rng.random((n, 18)) < 0.25, 3, rng.integers(0, 2, size=(n, 18)))
    signal = (statuses == 3) * 3.0 - 1.5
    logits = signal @ (np.eye(18) + 0.3 * rng.normal(size=(18, 18))) + rng.normal(size=(n, 18))
    return logits.astype(np.float32), one_hot(statuses), [f"p{i // 3}" for i in range(n)]


@pytest.mark.parametrize("kind", ["poincare", "cosine"])
def test_a_tiny_training_run_lowers_the_loss_and_finds_closer_neighbours(kind):
    logits, vectors, patients = _synthetic()
    config = RetrieverConfig(kind=kind, hidden=64, dim=8, steps=120, batch=120, lr=3e-3, eval_every=0, seed=1)
    projection, log = train_retriever(logits, vectors, patients, config)
    first, last = np.mean(log["loss"][:10]), np.mean(log["loss"][-10:])
    (_, before), (_, after) = log["nearest_hamming"][0], log["nearest_hamming"][-1]
    assert last < 0.9 * first
    assert after < before
    # the exported numpy projection reproduces the trained ordering
    emb = projection.embed(logits)
    d = projection.distances(emb[:5], emb)
    own = np.array(patients)
    d[own[:5, None] == own[None, :]] = np.inf
    nearest = d.argmin(1)
    mean = np.mean([hamming(vectors[i], vectors[j]) for i, j in enumerate(nearest)])
    assert np.isfinite(mean) and projection.kind == kind and projection.dim == 8
    # deterministic for a seed
    again, _ = train_retriever(logits, vectors, patients, config)
    assert np.array_equal(again.arrays["w2"], projection.arrays["w2"])


def test_bad_training_input_is_refused():
    logits, vectors, patients = _synthetic(12)
    with pytest.raises(ValueError, match="2 patients"):
        train_retriever(logits, vectors, ["same"] * 12, RetrieverConfig(steps=1))
    with pytest.raises(ValueError, match=r"logits \(R, 18\)"):
        train_retriever(logits[:, :5], vectors, patients)
    with pytest.raises(ValueError, match="kind"):
        RetrieverConfig(kind="euclid")
