"""Observation-guided sentences: the draft states what the observation heads are sure of.

The heads (``model/observation.py``) can separate a finding well (cardiomegaly, AUROC 1.0 on
unseen phantoms) while the decoder never writes it: it learned the common sentences first. A
guide, calibrated on the validation split (:mod:`ctrg_desktop.evaluation.guide_calibration`),
names the labels whose head is reliable (validation AUROC at least ``min_auroc``) with a
threshold each (the validation F1's best) and two sentences taken from the training reports: the
most common one that states only this finding, and the most common one that negates it and
states nothing. For a guided label, :func:`apply_guide`

* adds the positive sentence when p >= threshold and the report does not state the finding
  (replacing a sentence that negates it or says what its negative sentence says, e.g. "The heart
  is of normal size." for "Heart size is normal.", else inserted where training reports usually
  mention it),
* replaces the sentences that state it with the negative sentence when p < threshold.

Every change is a warning in the draft ("added 'Cardiomegaly is present.' (Cardiomegaly:
observation p=0.97 >= 0.41; the decoder did not state it)"), so the reader sees which sentences
came from the heads rather than the decoder (the DCRRG paper's observation-prompted sentences,
with sentences from the training reports instead of a per-observation decoder). Unguided labels
are left to the decoder. The guide is ``observation_guide.json`` in the model folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ctrg_desktop.atomic import atomic_write_text
from ctrg_desktop.reports.cleanup import polarities

GUIDE_NAME = "observation_guide.json"
GUIDE_VERSION = 1
SAME = 0.6  #: content-word overlap from which a report's sentence counts as a label's negative sentence


@dataclass(frozen=True)
class LabelGuide:
    """How one label is guided: decision threshold, its two sentences, where it goes, how reliable."""

    label: str
    threshold: float
    positive: str        #: the training reports' most common sentence stating only this finding
    negative: str        #: ... and the most common one negating it, or its normal counterpart ("" if none)
    position: float      #: mean relative place (0 first .. 1 last) of its sentence in training reports
    auroc: float         #: the head's validation AUROC
    f1: float            #: the head's validation F1 at ``threshold``


@dataclass
class ObservationGuide:
    """The guided labels of one model (module docstring) and where they were calibrated."""

    labels: dict[str, LabelGuide] = field(default_factory=dict)
    min_auroc: float = 0.85
    calibration: dict = field(default_factory=dict)  #: data folder, split, studies, per-label figures

    def to_json(self) -> dict:
        return {"version": GUIDE_VERSION, "min_auroc": self.min_auroc, "calibration": self.calibration,
                "labels": [asdict(g) for g in self.labels.values()]}

    @classmethod
    def from_json(cls, data: dict, where: str = "observation guide") -> ObservationGuide:
        if not isinstance(data, dict) or data.get("version") != GUIDE_VERSION:
            raise ValueError(f"{where} is not a version-{GUIDE_VERSION} observation guide")
        try:
            labels = {}
            for item in data.get("labels", []):
                g = LabelGuide(**item)
                if not (isinstance(g.positive, str) and isinstance(g.negative, str)) or not g.positive:
                    raise TypeError("sentences must be text")
                labels[g.label] = LabelGuide(g.label, float(g.threshold), g.positive, g.negative,
                                             float(g.position), float(g.auroc), float(g.f1))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where} is damaged: {exc}") from None
        return cls(labels=labels, min_auroc=float(data.get("min_auroc", 0.85)),
                   calibration=dict(data.get("calibration") or {}))

    def save(self, folder) -> Path:
        """Write ``folder/observation_guide.json`` crash-safe (temp file, fsync, rename)."""
        return atomic_write_text(Path(folder) / GUIDE_NAME, json.dumps(self.to_json(), indent=2) + "\n")


def load_guide(folder) -> ObservationGuide | None:
    """The guide beside a model (``folder/observation_guide.json``), or None when there is none."""
    path = Path(folder) / GUIDE_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is damaged ({exc}); calibrate the model again (ctrg calibrate)") from None
    return ObservationGuide.from_json(data, where=str(path))


def _quote(sentence: str, limit: int = 70) -> str:
    return sentence if len(sentence) <= limit else sentence[:limit - 3].rstrip() + "..."


_STOP_WORDS = frozenset("the and are was were with seen observed detected noted there both its".split())


def content_words(sentence: str) -> set[str]:
    """Lower-case words of 3+ letters, without the commonest report words."""
    return set(re.findall(r"[a-z]{3,}", sentence.lower())) - _STOP_WORDS


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of two sentences' content words (0 .. 1)."""
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / max(len(wa | wb), 1)


def _same(a: str, b: str) -> bool:
    """``a`` says what ``b`` says, in other words ("The heart is of normal size." ~ "Heart size is normal.")."""
    return bool(b) and similarity(a, b) >= SAME


def apply_guide(sentences: list[str], observations: Mapping[str, float] | None,
                guide: ObservationGuide | None) -> tuple[list[str], list[str]]:
    """(sentences, warnings) with every guided label stated as its head decides (module docstring)."""
    if guide is None or not observations:
        return list(sentences), []
    out = list(sentences)
    polar = [polarities(s) for s in out]  # kept in step with ``out``: the labeller runs once per sentence
    warnings: list[str] = []
    for label, g in guide.labels.items():
        p = observations.get(label)
        if p is None:
            continue
        p = float(p)
        stated = [i for i, pol in enumerate(polar) if pol.get(label) is True]
        if p >= g.threshold and not stated:
            negating = [i for i, pol in enumerate(polar) if pol.get(label) is False or _same(out[i], g.negative)]
            why = f"{label}: observation p={p:.2f} >= {g.threshold:.2f}"
            if negating:
                i = negating[0]
                warnings.append(f"replaced '{_quote(out[i])}' by '{g.positive}' ({why})")
                out[i], polar[i] = g.positive, polarities(g.positive)
                for j in reversed(negating[1:]):
                    warnings.append(f"dropped '{_quote(out[j])}' ({why})")
                    del out[j], polar[j]
            else:
                at = min(len(out), max(0, round(g.position * len(out))))
                out.insert(at, g.positive)
                polar.insert(at, polarities(g.positive))
                warnings.append(f"added '{g.positive}' ({why}; the decoder did not state it)")
        elif p < g.threshold and stated:
            why = f"{label}: observation p={p:.2f} < {g.threshold:.2f}"
            has_negative = any(pol.get(label) is False for pol in polar)
            keep = [True] * len(out)
            for n, i in enumerate(stated):
                if n == 0 and g.negative and not has_negative and g.negative not in out:
                    warnings.append(f"replaced '{_quote(out[i])}' by '{g.negative}' ({why})")
                    out[i], polar[i] = g.negative, polarities(g.negative)
                else:
                    warnings.append(f"dropped '{_quote(out[i])}' ({why})")
                    keep[i] = False
            out = [s for s, k in zip(out, keep) if k]
            polar = [pol for pol, k in zip(polar, keep) if k]
    return out, warnings
