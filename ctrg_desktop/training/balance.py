"""Class balance of the observation labels: BCE positive weights or per-study sampling weights.

Labels are a (S, L) int matrix, 1 positive, 0 negative, -1 unknown (left out of every count).
"""

from __future__ import annotations

import numpy as np
import torch

from ctrg_desktop.data.labels import CT_RATE_LABELS


def label_matrix(records) -> np.ndarray:
    """(S, 18) labels of CT-RATE records in CT-RATE order; -1 where a record has no label."""
    return np.array([[int(r.labels.get(k, -1)) for k in CT_RATE_LABELS] for r in records],
                    dtype=np.int64).reshape(len(records), len(CT_RATE_LABELS))


def positive_weights(labels: np.ndarray, cap: float = 20.0) -> torch.Tensor:
    """(L,) negatives / positives per label, clipped to [1, cap] (1 where a label never occurs)."""
    pos = (labels == 1).sum(0).astype(np.float64)
    neg = (labels == 0).sum(0).astype(np.float64)
    ratio = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    return torch.tensor(np.clip(ratio, 1.0, cap), dtype=torch.float32)


def resampling_weights(labels: np.ndarray, cap: float = 20.0) -> torch.Tensor:
    """(S,) sampling weight per study: the rarest of its positive labels decides,
    weight = min(cap, 1 / prevalence) / mean, so rare findings are drawn about as often as common
    ones; a study with no positive label weighs 1 before normalisation."""
    known = (labels >= 0).sum(0)
    prevalence = (labels == 1).sum(0) / np.maximum(known, 1)
    inverse = np.where(prevalence > 0, 1.0 / np.maximum(prevalence, 1e-12), 1.0)
    per_label = np.minimum(inverse, cap)
    weights = np.where(labels == 1, per_label[None, :], 1.0).max(axis=1)
    return torch.tensor(weights / weights.mean(), dtype=torch.double)
