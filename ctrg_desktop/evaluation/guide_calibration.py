"""Calibrate a model's observation guide (:mod:`ctrg_desktop.reports.observation_guide`).

``ctrg calibrate --model M --data DIR [--split valid] [--min-auroc 0.85]`` runs the encoder over
the split's studies (no decoding), scores each observation head against the labels CSV (AUROC,
and the threshold with the best F1), takes each label's two sentences from the train split's
reports (:func:`sentence_bank`) and writes ``observation_guide.json`` into the model folder
(``ctrg register`` copies it into the zoo). Labels with fewer than ``min_positives`` positive or
negative studies in the split, or an AUROC under ``min_auroc``, stay unguided. Never calibrate on
the studies you then evaluate on.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.reports.labeller import Mention, mentions
from ctrg_desktop.evaluation.observations import auroc
from ctrg_desktop.reports.observation_guide import LabelGuide, ObservationGuide, similarity
from ctrg_desktop.reports.parser import split_sentences


def best_threshold(labels, scores) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of ``scores >= threshold`` against 0/1 ``labels``; the
    threshold lies halfway between the last score called positive and the next lower one."""
    y = np.asarray(labels).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not y.any():
        return 1.0, 0.0
    values = np.unique(s)[::-1]
    best = (-1.0, 1.0)
    for n, v in enumerate(values):
        pred = s >= v
        tp = int((pred & y).sum())
        f1 = 2 * tp / (int(pred.sum()) + int(y.sum()))
        if f1 > best[0]:
            lower = values[n + 1] if n + 1 < len(values) else 0.0
            best = (f1, float((v + lower) / 2))
    return best[1], best[0]


def sentence_bank(reports) -> dict[str, tuple[str, str, float]]:
    """{label: (positive sentence, negative sentence, position)} from training reports.

    Positive: the most common sentence that states this label (positively, not uncertain) and
    mentions no other label. Negative: the most common one that negates it and states no label;
    for a label that reports never negate ("Heart size is normal." says nothing of cardiomegaly to
    the labeller), the sentence of reports without the finding that mentions no label and shares
    most words with the positive one (written by at least 5 % of them), which the positive one
    then replaces.
    Sentences without a number or a side ("left", "right") come first: a head knows whether a
    finding is there, not its size or side; those left in are blanked ("___ mm") for the reader
    to fill in. Position: the mean of (index of the first sentence mentioning it) / (sentences)."""
    positive, negative, without = defaultdict(Counter), defaultdict(Counter), defaultdict(Counter)
    places, n_without = defaultdict(list), Counter()
    for report in reports:
        sentences = split_sentences(report)
        labelled = {x for x in sentences if any(m != Mention.ABSENT for m in mentions(x).values())}
        report_states = {k for k, m in mentions(report).items() if m >= Mention.UNCERTAIN}
        for label in CT_RATE_LABELS:
            if label not in report_states:
                n_without[label] += 1
                without[label].update({x for x in set(sentences) if x not in labelled})
        seen = set()
        for i, sentence in enumerate(sentences):
            found = {k: m for k, m in mentions(sentence).items() if m != Mention.ABSENT}
            stated = {k for k, m in found.items() if m >= Mention.UNCERTAIN}
            for label, m in found.items():
                if label not in seen:
                    seen.add(label)
                    places[label].append(i / max(len(sentences), 1))
                if m == Mention.POSITIVE and stated == {label} and len(found) == 1:
                    positive[label][sentence] += 1
                elif m == Mention.NEGATED and not stated:
                    negative[label][sentence] += 1
    bank = {}
    for label in CT_RATE_LABELS:
        if not positive[label]:
            continue
        pos = _plainest(positive[label])
        neg = _plainest(negative[label]) or _counterpart(pos, without[label], n_without[label])
        bank[label] = (_blank_specifics(pos), _blank_specifics(neg), float(np.mean(places[label])))
    return bank


def _counterpart(sentence: str, counts: Counter, reports: int, least: float = 0.25) -> str:
    """The common sentence (>= 5 % of ``reports``) mentioning no label that shares most words with
    ``sentence`` (Jaccard >= ``least``); "" if none."""
    best, best_score = "", least - 1e-9
    for candidate, n in sorted(counts.items()):
        if n < 0.05 * reports:
            continue
        score = similarity(sentence, candidate)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _blank_specifics(sentence: str) -> str:
    """Numbers and sides, which a head does not know, blanked for the reader: "Left pleural effusion
    of 12 mm", "ratio of 0.6", "12x8 mm" -> "___ pleural effusion of ___ mm", "ratio of ___", "___ mm"."""
    sentence = re.sub(r"\b(?:left|right)\b", "___", sentence, flags=re.IGNORECASE)
    return re.sub(r"(?<![A-Za-z\d])\d+(?:[.,]\d+)?(?:\s*[x×]\s*\d+(?:[.,]\d+)?)*", "___", sentence)


def _plainest(counts: Counter) -> str:
    """The most common sentence among those with the fewest specifics (a number, a side); "" if none."""
    def specifics(sentence: str) -> int:
        return int(bool(re.search(r"\d", sentence))) + int(bool(re.search(r"\b(?:left|right)\b", sentence, re.I)))

    ranked = sorted(counts.items(), key=lambda item: (specifics(item[0]), -item[1], item[0]))
    return ranked[0][0] if ranked else ""


def _probabilities(model, records, cache_dir, batch_size: int, progress) -> np.ndarray:
    """(studies, 18) observation probabilities of ``model`` on ``records`` (encoder only)."""
    import torch

    from ctrg_desktop.training.dataset import StudyDataset

    studies = StudyDataset(records, model.config, cache_dir=cache_dir)
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(records), batch_size):
        arrays = [studies.volume_array(r) for r in records[start:start + batch_size]]
        volume = torch.from_numpy(np.stack(arrays)).unsqueeze(1).to(device)
        with torch.no_grad():
            probs = model.encode(volume).observation_probabilities()
        if probs is None:
            raise ValueError("the model has no observation heads: nothing to calibrate")
        out.append(probs.float().cpu().numpy())
        if progress:
            progress(min(start + batch_size, len(records)), len(records))
    return np.concatenate(out)


def calibrate_guide(model, data_dir, split: str = "valid", min_auroc: float = 0.85, min_positives: int = 3,
                    cache_dir=None, batch_size: int = 4, progress=None) -> ObservationGuide:
    """An :class:`ObservationGuide` for a loaded ``model`` from ``split`` of ``data_dir`` (module docstring)."""
    from ctrg_desktop.data.ctrate import CTRateDataset

    records = list(CTRateDataset(data_dir, split=split, missing="skip").records)
    if not records:
        raise ValueError(f"no studies in split {split!r} of {data_dir}")
    if not all(set(CT_RATE_LABELS) <= set(r.labels) for r in records):
        raise ValueError(f"some {split!r} studies of {data_dir} have no labels CSV row: nothing to calibrate against")
    train = CTRateDataset(data_dir, split="train", missing="skip").records
    bank = sentence_bank(r.findings for r in train)
    was_training = model.training
    model.eval()
    try:
        probs = _probabilities(model, records, cache_dir, batch_size, progress)
    finally:
        model.train(was_training)
    y = np.array([[r.labels[k] for k in CT_RATE_LABELS] for r in records])
    figures, labels = {}, {}
    for j, label in enumerate(CT_RATE_LABELS):
        positives = int(y[:, j].sum())
        area = auroc(y[:, j], probs[:, j])
        threshold, f1 = best_threshold(y[:, j], probs[:, j])
        figures[label] = {"auroc": area, "f1": round(f1, 4), "threshold": round(threshold, 4),
                          "positives": positives}
        if (area is None or area < min_auroc or label not in bank
                or min(positives, len(records) - positives) < min_positives):
            continue
        pos, neg, place = bank[label]
        labels[label] = LabelGuide(label, round(threshold, 4), pos, neg, round(place, 3), round(area, 4),
                                   round(f1, 4))
    calibration = {"data": str(data_dir), "split": split, "n_studies": len(records),
                   "n_train_reports": len(train), "min_positives": min_positives, "per_label": figures}
    return ObservationGuide(labels=labels, min_auroc=min_auroc, calibration=calibration)


def _cmd_calibrate(args) -> int:
    from ctrg_desktop.evaluation.runner import study_progress
    from ctrg_desktop.model.zoo import load_model, resolve_model_folder

    folder = resolve_model_folder(args.model, need_weights=True)
    started = time.perf_counter()
    model = load_model(folder, device=args.device)
    guide = calibrate_guide(model, args.data, split=args.split, min_auroc=args.min_auroc,
                            min_positives=args.min_positives, cache_dir=args.cache_dir,
                            progress=study_progress(args.quiet))
    path = guide.save(args.out or folder)
    for label, fig in guide.calibration["per_label"].items():
        mark = "guided" if label in guide.labels else "-"
        area = "n/a" if fig["auroc"] is None else f"{fig['auroc']:.3f}"
        print(f"{label:36s} AUROC {area:>5s} F1 {fig['f1']:.3f} threshold {fig['threshold']:.3f} "
              f"positives {fig['positives']:3d}  {mark}")
    print(f"{len(guide.labels)} of {len(CT_RATE_LABELS)} labels guided; wrote {path} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


def add_calibrate_parser(subparsers):
    """Add ``ctrg calibrate`` to an ``argparse`` subparsers object; returns the new parser."""
    p = subparsers.add_parser("calibrate", help="calibrate the observation guide of a model on a validation split "
                                                "(which labels the draft states as the heads decide)")
    p.add_argument("--model", required=True, help="model folder or model-zoo name")
    p.add_argument("--data", type=Path, required=True, help="CT-RATE layout folder with a labels CSV")
    p.add_argument("--split", default="valid", choices=("train", "valid", "test"),
                   help="the split to calibrate on (never the one you evaluate on)")
    p.add_argument("--min-auroc", type=float, default=0.85, help="guide only labels whose head reaches this AUROC")
    p.add_argument("--min-positives", type=int, default=3, help="... and has this many positive and negative studies")
    p.add_argument("--out", type=Path, default=None,
                   help="folder to write observation_guide.json (default: the model's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto")
    p.add_argument("--cache-dir", type=Path, default=None, help="cache of preprocessed volumes")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_calibrate)
    return p
