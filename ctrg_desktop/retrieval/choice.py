"""Which references a study gets, for each way of choosing them: one function for
``ctrg retrieval neighbours`` (training references) and ``ctrg evaluate --retrieval`` (drafts).

* ``index``: the learnt retriever of the index (the study's logits);
* ``probabilities``: nearest by Euclidean distance of the heads' probabilities (no learning);
* ``random``: seeded draws (one draw, ``rng.choice``, when ``k`` is 1);
* ``oracle``: smallest Hamming distance of the true report's statuses (ties in index order).
References of the study's own patient are never chosen.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.retrieval.status import status_hamming

METRICS = ("index", "probabilities", "random", "oracle")


def _sigmoid(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def choose_rows(index, metric: str, patient, logits=None, statuses=None, k: int = 1, rng=None) -> list[int]:
    """Up to ``k`` row numbers of ``index`` for one study: its ``patient`` (None: none left out),
    (18,) ``logits`` (index, probabilities), (18,) true ``statuses`` (oracle), ``rng`` (random)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "index":
        rows = index.row_numbers()
        return [rows[n.name] for n in index.query(logits, k=k, exclude_patients=[patient] if patient else [])]
    allowed = np.flatnonzero(np.asarray(index.patients, dtype=object) != patient)
    if metric == "random":
        if k == 1:
            return [int(rng.choice(allowed))]
        return [int(j) for j in rng.choice(allowed, size=min(k, len(allowed)), replace=False)]
    if metric == "probabilities":
        d = ((_sigmoid(index.logits[allowed]) - _sigmoid(logits)) ** 2).sum(1)
    else:
        d = status_hamming(statuses, index.statuses[allowed])
    return [int(allowed[j]) for j in np.argsort(d, kind="stable")[:k]]
