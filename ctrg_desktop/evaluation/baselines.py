"""Model-free baselines: what a report model must beat to be worth anything.

* ``most_common_report``: the most frequent training report (findings), the first one written
  when all are distinct, given for every study;
* ``random_train_report``: a training report drawn at random (with replacement) for each study;
  ``draws`` draws (default 20, seeded), each metric as mean and standard deviation over them.

Both are scored like a model: NLG (METEOR skipped: one Java run per draw would dominate) and
clinical efficacy (labeller on the baseline text, the same reference labels as the model).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import numpy as np

DRAWS = 20
SEED = 0
NLG_BASELINE_KEYS = ("BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr")


def _scores(references: Sequence[str] | None, hypotheses: Sequence[str], hyp_labels: np.ndarray,
            ref_labels: np.ndarray) -> dict:
    from ctrg_desktop.evaluation.clinical import clinical_efficacy
    from ctrg_desktop.evaluation.nlg import nlg_metrics

    out = {"clinical_efficacy": clinical_efficacy(hyp_labels, ref_labels)["micro"]}
    if references is not None:
        metrics = nlg_metrics(list(references), list(hypotheses), meteor=False)
        out["nlg"] = {k: metrics[k] for k in NLG_BASELINE_KEYS}
    return out


def most_common_report(train_reports: Sequence[str]) -> tuple[str, int]:
    """(report, count): the most frequent non-empty training report, the first written on ties."""
    counts = collections.Counter(r for r in train_reports if r and r.strip())
    if not counts:
        raise ValueError("no non-empty training report to build a baseline from")
    return counts.most_common(1)[0]


def report_baselines(train_reports: Sequence[str], reference_labels, references: Sequence[str] | None = None,
                     draws: int = DRAWS, seed: int = SEED) -> dict:
    """Score the two baselines against ``reference_labels`` ((R, 18) 0/1) and, for NLG, the
    reference texts ``references`` (no ``"nlg"`` entries without them).

    Returns ``{"most_common_report": {"report", "count", "clinical_efficacy": {precision, recall,
    f1}, "nlg": {...}}, "random_train_report": {"draws", "seed", "clinical_efficacy": {metric:
    {"mean", "std"}}, "nlg": {...}}, "n_train_reports": n}``.
    """
    from ctrg_desktop.evaluation.clinical import as_label_array, label_reports

    pool = [r for r in train_reports if r and r.strip()]
    ref_labels = as_label_array(reference_labels)
    n = ref_labels.shape[0]
    if references is not None and len(references) != n:
        raise ValueError(f"{len(references)} references but {n} reference label rows")
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    common, count = most_common_report(pool)
    common_labels = label_reports([common])
    out = {"n_train_reports": len(pool),
           "most_common_report": {"report": common, "count": int(count),
                                  **_scores(references, [common] * n, np.repeat(common_labels, n, axis=0),
                                            ref_labels)}}
    pool_labels = label_reports(pool)                       # label each training report once
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(draws):
        pick = rng.integers(0, len(pool), size=n)
        runs.append(_scores(references, [pool[i] for i in pick], pool_labels[pick], ref_labels))
    summary = {"draws": int(draws), "seed": int(seed)}
    for part in runs[0]:
        summary[part] = {k: {"mean": float(np.mean([r[part][k] for r in runs])),
                             "std": float(np.std([r[part][k] for r in runs]))} for k in runs[0][part]}
    out["random_train_report"] = summary
    return out
