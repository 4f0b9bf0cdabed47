"""AUROC of the observation heads: ranks with ties, labels without both classes left out."""

import numpy as np
import pytest

from ctrg_desktop.evaluation.observations import auroc, observation_auroc


def _brute_force(y, s):
    pos, neg = s[y == 1], s[y == 0]
    return np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])


def test_auroc_values():
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auroc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert auroc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5                 # ties count half
    assert auroc([0, 1, 1], [0.2, 0.1, 0.3]) == 0.5
    assert auroc([1, 1], [0.2, 0.3]) is None and auroc([0, 0], [0.2, 0.3]) is None
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200) + 0.3 * y, 1)                              # many ties
    assert auroc(y, s) == pytest.approx(_brute_force(y, s))
    with pytest.raises(ValueError):
        auroc([0, 1], [0.1])


def test_observation_auroc_per_label_and_mean():
    labels = np.array([[0, 1, 1], [1, 1, 0], [0, 1, 1], [1, 1, 0]])
    probs = np.array([[0.1, 0.5, 0.9], [0.9, 0.5, 0.2], [0.2, 0.5, 0.4], [0.7, 0.5, 0.6]])
    out = observation_auroc(probs, labels, ["a", "b", "c"])
    assert out["per_label"] == {"a": 1.0, "b": None, "c": 0.75}
    assert out["mean"] == pytest.approx(0.875) and out["n_labels"] == 2 and out["n_studies"] == 4
    assert out["positives"] == {"a": 2, "b": 4, "c": 2}
    with pytest.raises(ValueError, match="shape"):
        observation_auroc(probs, labels[:, :2], ["a", "b", "c"])
