"""Clinical efficacy (CE): the 18 CT-RATE abnormality labels of generated vs reference reports.

Generated reports are labelled with the rule-based labeller
(:func:`ctrg_desktop.reports.labeller.label_report`); reference labels come from the
dataset's label CSV when given, else from the same labeller. As in the seed paper's code,
precision/recall/F1 are micro-averaged over all (report, label) pairs; per-label scores,
support and a macro average are reported too. A ratio with a zero denominator is 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ctrg_desktop.data.labels import CT_RATE_LABELS


def label_reports(texts: Sequence[str], uncertain_as: int = 1) -> np.ndarray:
    """Reports -> 0/1 array (R, 18) in CT-RATE column order."""
    from ctrg_desktop.reports.labeller import label_report

    if isinstance(texts, str):
        raise ValueError("label_reports takes a list of reports, not one string")
    rows = [label_report(t or "", uncertain_as=uncertain_as) for t in texts]
    return as_label_array(rows)


def as_label_array(labels, names: Sequence[str] = CT_RATE_LABELS) -> np.ndarray:
    """A (R, L) 0/1 int array from an array-like or a list of ``{label: 0/1}`` dicts.

    Dicts must hold every name in ``names`` (``ValueError`` naming the first missing one).
    """
    if isinstance(labels, np.ndarray) or (len(labels) and not isinstance(labels[0], Mapping)):
        arr = np.asarray(labels)
        arr = arr.reshape(0, len(names)) if arr.size == 0 else arr
    else:
        rows = []
        for n, row in enumerate(labels):
            missing = [k for k in names if k not in row]
            if missing:
                raise ValueError(f"labels of report {n} lack {missing[0]!r}")
            rows.append([row[k] for k in names])
        arr = np.asarray(rows).reshape(len(rows), len(names))
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(f"labels must have shape (reports, {len(names)}), got {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return arr.astype(np.int64)


def _prf(tp: float, fp: float, fn: float) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def clinical_efficacy(predicted, reference, names: Sequence[str] = CT_RATE_LABELS) -> dict:
    """CE scores of ``predicted`` against ``reference`` labels (arrays (R, L) or lists of dicts).

    Returns ``{"micro": {precision, recall, f1}, "macro": {...}, "per_label": {name: {precision,
    recall, f1, support, predicted, tp}}, "counts": {tp, fp, fn, tn}, "n_reports": R}``.
    ``support`` = reference positives, ``predicted`` = predicted positives.
    """
    pred, ref = as_label_array(predicted, names), as_label_array(reference, names)
    if pred.shape != ref.shape:
        raise ValueError(f"{pred.shape[0]} predicted but {ref.shape[0]} reference label rows")
    tp = (pred & ref).sum(0)
    fp = (pred & (1 - ref)).sum(0)
    fn = ((1 - pred) & ref).sum(0)
    tn = ((1 - pred) & (1 - ref)).sum(0)
    per_label = {name: {**_prf(tp[i], fp[i], fn[i]), "support": int(ref[:, i].sum()),
                        "predicted": int(pred[:, i].sum()), "tp": int(tp[i])}
                 for i, name in enumerate(names)}
    macro = {k: float(np.mean([v[k] for v in per_label.values()])) if per_label else 0.0
             for k in ("precision", "recall", "f1")}
    return {"micro": _prf(tp.sum(), fp.sum(), fn.sum()), "macro": macro, "per_label": per_label,
            "counts": {"tp": int(tp.sum()), "fp": int(fp.sum()), "fn": int(fn.sum()), "tn": int(tn.sum())},
            "n_reports": int(pred.shape[0])}


def clinical_efficacy_from_reports(generated: Sequence[str], references: Sequence[str] | None = None,
                                   reference_labels=None, uncertain_as: int = 1) -> dict:
    """CE of generated reports; reference labels given, or labelled from ``references``.

    The result also says where the reference labels came from (``"reference_source"``:
    ``"dataset"`` or ``"labeller"``).
    """
    if reference_labels is None and references is None:
        raise ValueError("give references (texts) or reference_labels")
    pred = label_reports(generated, uncertain_as)
    if reference_labels is not None:
        ref, source = as_label_array(reference_labels), "dataset"
    else:
        if len(references) != len(generated):
            raise ValueError(f"{len(generated)} generated but {len(references)} reference reports")
        ref, source = label_reports(references, uncertain_as), "labeller"
    return {**clinical_efficacy(pred, ref), "reference_source": source}
