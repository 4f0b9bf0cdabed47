"""How well the observation heads separate studies with and without each CT-RATE label: AUROC.

AUROC is the probability that a random positive study scores above a random negative one (ties
count half), computed from ranks (Mann-Whitney U). A label whose studies are all positive or
all negative has no AUROC (``None``) and stays out of the mean; 0.5 is what guessing scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their mean rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def auroc(labels, scores) -> float | None:
    """Area under the ROC curve of ``scores`` for 0/1 ``labels``; None without both classes."""
    y = np.asarray(labels).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return None
    r = _ranks(s)
    return float((r[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def observation_auroc(probabilities, labels, names: Sequence[str]) -> dict:
    """Per-label AUROC of ``probabilities`` (R, L) against 0/1 ``labels`` (R, L).

    Returns ``{"per_label": {name: auroc or None}, "mean": mean over labels with both classes,
    "n_labels": how many, "positives": {name: count}, "n_studies": R}``."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    if p.ndim != 2 or p.shape != y.shape or p.shape[1] != len(names):
        raise ValueError(f"need probabilities and labels of shape (studies, {len(names)}), got {p.shape} "
                         f"and {y.shape}")
    per = {name: auroc(y[:, j], p[:, j]) for j, name in enumerate(names)}
    valid = [v for v in per.values() if v is not None]
    return {"per_label": per, "mean": float(np.mean(valid)) if valid else None, "n_labels": len(valid),
            "positives": {name: int(y[:, j].sum()) for j, name in enumerate(names)}, "n_studies": int(p.shape[0])}
