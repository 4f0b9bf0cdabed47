"""Diversity of a set of reports: catches models that write the same report for every scan.

* ``distinct_reports``: distinct reports / reports (after PTB-style normalisation);
* ``distinct_sentences``: distinct sentences / sentences over the whole set;
* ``mean_pairwise_similarity``: mean bag-of-words cosine over all pairs of reports (a random
  sample of ``max_reports`` reports when the set is larger); 1.0 for identical reports;
* ``distinct_1``/``distinct_2``: distinct unigrams/bigrams over all tokens; ``vocabulary``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ctrg_desktop.evaluation.nlg import normalise, tokenize
from ctrg_desktop.reports.parser import split_sentences


def _share(items: list) -> float:
    return len(set(items)) / len(items) if items else 0.0


def mean_pairwise_similarity(reports: Sequence[str], max_reports: int = 2000, seed: int = 0) -> float | None:
    """Mean bag-of-words cosine over report pairs (None for fewer than two reports)."""
    docs = [tokenize(r) for r in reports]
    if len(docs) < 2:
        return None
    if len(docs) > max_reports:
        keep = np.random.default_rng(seed).choice(len(docs), max_reports, replace=False)
        docs = [docs[i] for i in sorted(keep)]
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}))}
    counts = np.zeros((len(docs), max(len(vocab), 1)), dtype=np.float32)
    for row, d in enumerate(docs):
        for w in d:
            counts[row, vocab[w]] += 1
    norms = np.linalg.norm(counts, axis=1)
    empty = norms == 0
    unit = counts / np.where(empty, 1.0, norms)[:, None]
    sim = unit @ unit.T
    both_empty = empty[:, None] & empty[None, :]
    sim = np.where(both_empty, 1.0, sim)  # two empty reports are identical
    n = len(docs)
    return float((sim.sum() - np.trace(sim)) / (n * (n - 1)))


def diversity(reports: Sequence[str], max_reports: int = 2000) -> dict:
    """Diversity statistics of ``reports`` (see module docstring)."""
    if isinstance(reports, str):
        raise ValueError("diversity takes a list of reports, not one string")
    normal = [normalise(r) for r in reports]
    sentences = [s for r in reports for s in (normalise(x) for x in split_sentences(r or "")) if s]
    tokens = [tokenize(r) for r in reports]
    unigrams = [w for t in tokens for w in t]
    bigrams = [tuple(t[i:i + 2]) for t in tokens for i in range(len(t) - 1)]
    return {
        "n_reports": len(normal),
        "distinct_reports": _share(normal),
        "n_distinct_reports": len(set(normal)),
        "n_sentences": len(sentences),
        "distinct_sentences": _share(sentences),
        "n_distinct_sentences": len(set(sentences)),
        "distinct_1": _share(unigrams),
        "distinct_2": _share(bigrams),
        "vocabulary": len(set(unigrams)),
        "mean_length": float(np.mean([len(t) for t in tokens])) if tokens else 0.0,
        "mean_pairwise_similarity": mean_pairwise_similarity(reports, max_reports),
    }
