"""Small hand-made projections and indexes for the retrieval tests (no model, no torch)."""

import numpy as np
import pytest

from ctrg_desktop.retrieval.index import ReferenceIndex
from ctrg_desktop.retrieval.projection import Projection


def make_projection(kind="poincare", dim=4, seed=0, c=1.0):
    rng = np.random.default_rng(seed)
    arrays = {"mean": np.zeros(18), "std": np.ones(18), "w1": rng.normal(size=(18, 16)) / 4, "b1": np.zeros(16),
              "w2": rng.normal(size=(16, dim)) / 4, "b2": np.zeros(dim)}
    return Projection(kind, c, arrays)


@pytest.fixture
def small_index(tmp_path):
    """8 references of 4 patients (2 studies each), random logits; user folder under tmp_path."""
    rng = np.random.default_rng(1)
    n = 8
    names = [f"train_{i // 2}_a_{i % 2 + 1}" for i in range(n)]
    patients = [f"train_{i // 2}" for i in range(n)]
    statuses = rng.integers(0, 4, size=(n, 18))
    thumbs = rng.integers(0, 255, size=(n, 64, 64))
    return ReferenceIndex(make_projection(), "ab" * 32, names, patients, ["train"] * 6 + ["valid"] * 2,
                          [f"Report {i}." for i in range(n)], rng.normal(size=(n, 18)) * 2, statuses, thumbs,
                          model_name="tiny")
