"""The prior case each evaluated study is drafted with (``ctrg evaluate --retrieval MODE``), and its figures.

Modes (the retrieval variants of the issue's ablation):
  * ``index``: the model's learnt retriever (its reference index);
  * ``probabilities``: nearest by Euclidean distance of the observation heads' probabilities (no learning);
  * ``random``: a seeded random reference;
  * ``oracle``: nearest by the label statuses of the study's *true* report (an upper bound no user has).
The user's accepted corrections are left out, so that a figure can be reproduced. A study
named like a reference (evaluating the index's own splits) never gets a reference of that reference's
patient; phantom sets of other seeds reuse the names, so such a study loses one unrelated patient's
references (2 of 2,160 at most), which keeps the figures reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ctrg_desktop.retrieval.choice import METRICS, choose_rows
from ctrg_desktop.retrieval.index import ReferenceIndex

MODES = ("off",) + METRICS


class ReferenceChooser:
    """``choose(names, logits (B, 18), true_statuses (B, 18)) -> B reference rows`` of ``index``
    (:func:`~ctrg_desktop.retrieval.choice.choose_rows`, one seeded draw sequence for ``random``)."""

    def __init__(self, index: ReferenceIndex, mode: str, seed: int = 0):
        if mode not in MODES or mode == "off":
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES[1:])}, got {mode!r}")
        self.index, self.mode = index, mode
        self.rng = np.random.default_rng(seed)
        self.own = {name: patient for name, patient in zip(index.names, index.patients)}
        self.chosen: list[int] = []
        self.patients_left_out: list = []  #: per study: its own patient when it is in the index, else None

    def choose(self, names, logits, true_statuses) -> list[int]:
        """Row numbers of the index, one per study (also appended to :attr:`chosen`)."""
        rows = []
        for name, lg, st in zip(names, np.asarray(logits), np.asarray(true_statuses)):
            patient = self.own.get(name)
            rows += choose_rows(self.index, self.mode, patient, lg, st, k=1, rng=self.rng)
            self.patients_left_out.append(patient)
        self.chosen += rows
        return rows

    def reports(self, rows) -> list[str]:
        return [self.index.reports[r] for r in rows]


def load_chooser(model, mode: str, index_path=None, seed: int = 0) -> ReferenceChooser | None:
    """The chooser of ``mode`` over ``index_path`` (default: the model's index); None for "off"."""
    if mode == "off":
        return None
    path = index_path or getattr(model, "reference_index_path", None)
    if path is None or not Path(path).is_file():
        raise ValueError("--retrieval needs a reference index: the model has none (ctrg retrieval index) "
                         "and no --retrieval-index was given")
    return ReferenceChooser(ReferenceIndex.load(path, corrections=False), mode, seed)


def retrieval_figures(chooser: ReferenceChooser | None, true_statuses, generated, gen_labels, ref_labels,
                      train_labels) -> dict:
    """Mean Hamming distance of the chosen references (and of random training reports), the copy
    rate and CE F1 on labels of prevalence < 10 % in ``train_labels`` (None: not computed)."""
    from ctrg_desktop.evaluation.retrieval_cases import (copy_rate, mean_neighbour_hamming, random_report_hamming,
                                                         rare_label_f1, rare_labels)

    out: dict = {"mode": "off" if chooser is None else chooser.mode}
    if train_labels is not None:
        rare = rare_labels(train_labels)
        out["rare_labels"] = rare
        out["rare_label_f1"] = rare_label_f1(gen_labels, ref_labels, rare)
    if chooser is None:
        return out
    index, rows = chooser.index, chooser.chosen
    st = np.asarray(true_statuses)
    train = np.array([s == "train" for s in index.sources])
    out.update({
        "references": len(index.names),
        "neighbour_hamming": mean_neighbour_hamming(st, index.statuses[rows]),
        "random_hamming": random_report_hamming(st, chooser.patients_left_out, index.statuses[train],
                                                np.asarray(index.patients, dtype=object)[train]),
        "copy_rate": copy_rate(list(generated), chooser.reports(rows)),
        "chosen": [index.names[r] for r in rows],
    })
    return out
