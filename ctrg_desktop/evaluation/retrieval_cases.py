"""Figures of the "similar prior cases" retrieval (issue 14): how close the retrieved neighbour's
labels are, how much a draft copies from it, and CE F1 on the rare labels.

- :func:`mean_neighbour_hamming`: mean Hamming distance between 72-value label-status vectors of
  each study's true report and its retrieved neighbour's (target: at most half that of a random
  training report, :func:`random_report_hamming`, which also gives the spread over draws);
- :func:`copy_rate`: share of draft sentences found verbatim (case and spacing aside) in the
  retrieved report;
- :func:`rare_labels` / :func:`rare_label_f1`: labels with prevalence < 10 % in the training split
  and the CE F1 (micro over them, and per label) of drafts on those labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.evaluation.clinical import clinical_efficacy
from ctrg_desktop.reports.parser import split_sentences
from ctrg_desktop.retrieval.status import status_hamming

RARE_PREVALENCE = 0.10


def mean_neighbour_hamming(statuses, neighbour_statuses) -> float:
    """Mean Hamming distance (0..36 labels x 2) of (N, 18) statuses 0..3 to their neighbours' (N, 18)."""
    a, b = np.asarray(statuses), np.asarray(neighbour_statuses)
    if a.shape != b.shape or a.ndim != 2 or not len(a):
        raise ValueError(f"need two (N, 18) status arrays of one shape, got {a.shape} and {b.shape}")
    return float(np.mean([status_hamming(x, y) for x, y in zip(a, b)]))


def random_report_hamming(statuses, patients, train_statuses, train_patients, draws: int = 20,
                          seed: int = 0) -> tuple[float, float]:
    """(mean, standard deviation over ``draws``) of the mean Hamming distance between each study
    (``statuses`` (N, 18), ``patients`` N) and a random training report of another patient."""
    a, t = np.asarray(statuses), np.asarray(train_statuses)
    pa, pt = np.asarray(patients, dtype=object), np.asarray(train_patients, dtype=object)
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(max(1, int(draws))):
        picks = []
        for x, p in zip(a, pa):
            allowed = np.flatnonzero(pt != p)
            if not len(allowed):
                raise ValueError(f"no training report of another patient than {p}")
            picks.append(t[rng.choice(allowed)])
        means.append(mean_neighbour_hamming(a, np.stack(picks)))
    return float(np.mean(means)), float(np.std(means))


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def copy_rate(drafts: Sequence[str], retrieved: Sequence) -> float | None:
    """Share of all draft sentences found verbatim in the draft's retrieved report(s).

    ``retrieved[i]``: a report text or a list of them (the draft's references). None when the
    drafts have no sentence."""
    if len(drafts) != len(retrieved):
        raise ValueError(f"{len(drafts)} drafts but {len(retrieved)} retrieved reports")
    copied = total = 0
    for draft, refs in zip(drafts, retrieved):
        refs = [refs] if isinstance(refs, str) else list(refs)
        haystack = [_norm(r) for r in refs]
        for sentence in split_sentences(draft):
            total += 1
            copied += any(_norm(sentence) in h for h in haystack)
    return copied / total if total else None


def rare_labels(train_labels, threshold: float = RARE_PREVALENCE) -> list[str]:
    """Labels whose prevalence in ``train_labels`` ((M, 18) 0/1) is below ``threshold``."""
    y = np.asarray(train_labels)
    if y.ndim != 2 or y.shape[1] != len(CT_RATE_LABELS) or not len(y):
        raise ValueError(f"train labels must be (M, {len(CT_RATE_LABELS)}) with M >= 1, got {y.shape}")
    prevalence = y.mean(0)
    return [name for name, p in zip(CT_RATE_LABELS, prevalence) if p < threshold]


def rare_label_f1(predicted, reference, labels: Sequence[str]) -> dict:
    """{"micro_f1": micro F1 over ``labels``, "per_label": {label: F1}} of (N, 18) 0/1 arrays."""
    if not labels:
        return {"micro_f1": None, "per_label": {}}
    idx = [CT_RATE_LABELS.index(name) for name in labels]
    ce = clinical_efficacy(np.asarray(predicted)[:, idx], np.asarray(reference)[:, idx], names=list(labels))
    return {"micro_f1": ce["micro"]["f1"], "per_label": {k: v["f1"] for k, v in ce["per_label"].items()}}
