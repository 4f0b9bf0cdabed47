"""Turn a decoder's raw report into text a radiologist can paste.

The BERT decoder writes lower-case WordPiece text ("plate - like atelectasis", "( lad )",
"23 x 16. 5 mm"). :func:`clean_report` returns it tidied, in this order:

1. **Tokenizer artefacts** (:func:`detokenize`): no spaces around hyphens, slashes and
   apostrophes between words (a minus before a number stays apart: "under -950 HU"), none before
   ``, . ; : ? ! ) %`` or after ``(``, "16. 5" -> "16.5" (also dates "26. 02. 2015"), runs of
   spaces collapsed.
2. **Sentence case** (:func:`sentence_case`): each sentence starts with a capital; acronyms
   (CT, HU, LAD, RCA, ...) and vertebral levels (T12, L1) are upper case; units stay lower case.
3. **A cut last sentence** -- one without a final ``.``, ``!`` or ``?`` (the length budget ran out
   before the report ended) -- is dropped.
4. **Repeated sentences** (the same words ignoring case) keep their first occurrence.
5. **Contradictions**: where one sentence states a CT-RATE label and another negates it
   (:func:`ctrg_desktop.reports.labeller.mentions`; an uncertain mention counts as positive,
   as the labeller scores it), one side goes. With an observation probability for the label,
   p >= 0.5 keeps the positive sentences and p < 0.5 the negative ones. Without one the positive
   side stays: the reader sees and can delete a stated finding, a silently dropped one is lost.
   A sentence dropped for one label takes its other statements with it.
6. **Observation guide** (optional, :mod:`ctrg_desktop.reports.observation_guide`): labels whose
   head is reliable are stated as the head decides, each change a warning.

Every dropped sentence is named in a warning, e.g. ``dropped 'no nodule was observed.'
(contradicts 'A 5 mm nodule ...' on Lung nodule; observation p=0.83)``. Text that is already
clean passes through unchanged (apart from sentence case), so the clean-up can run on reports
of any decoder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ctrg_desktop.reports.parser import split_sentences

#: Lower-case words written upper case in a report.
ACRONYMS = ("ct", "hu", "lad", "rca", "lcx", "cx", "lca", "icd", "svc", "ivc", "copd", "ards", "mri", "pet",
            "cabg", "tavi", "ptca", "ecg", "bi-rads", "lung-rads", "ctr", "ggo", "aml")
_ACRONYM = re.compile(r"\b(" + "|".join(re.escape(a) for a in sorted(ACRONYMS, key=len, reverse=True)) + r")\b",
                      re.IGNORECASE)
_VERTEBRA = re.compile(r"\b([ctls])([1-9]|1[0-2])\b", re.IGNORECASE)
_ENDS = (".", "!", "?")


@dataclass
class CleanReport:
    """The cleaned text, the sentences dropped from it and one warning per dropped sentence."""

    text: str
    dropped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def detokenize(text: str) -> str:
    """Undo WordPiece decoding's spacing: "plate - like" -> "plate-like", "( a, b )" -> "(a, b)",
    "16. 5 mm" -> "16.5 mm", "patient ' s" -> "patient's", " , " -> ", "."""
    t = re.sub(r"\s+", " ", text or "").strip()
    t = re.sub(r"(\w) ?([-/]) ?(?=(\w))", _join, t)              # plate - like, t1 / t2, 5 - 10
    t = re.sub(r"(?<=\w) ?' ?(?=\w)", "'", t)                 # patient ' s, don ' t
    t = re.sub(r"(?<=[a-z]) - (?=\d)", " -", t)                # under - 950 -> under -950
    t = re.sub(r"(?<=\d)\. (?=\d)", ".", t)                    # 16. 5, 26. 02. 2015
    t = re.sub(r" +([,.;:?!)\]%])", r"\1", t)                  # word , -> word,   5 % -> 5%
    t = re.sub(r"([(\[]) +", r"\1", t)                         # ( left -> (left
    t = re.sub(r"([,;:])(?=[^\s\d])", r"\1 ", t)               # a,b -> a, b (not 1,5)
    return re.sub(r" {2,}", " ", t).strip()


def _join(m: re.Match) -> str:
    """"a - b" -> "a-b", but "under - 950" keeps its minus sign apart."""
    before, mark, after = m.group(1), m.group(2), m.group(3)
    if mark == "-" and before.isalpha() and after.isdigit() and " " in m.group(0):
        return m.group(0)
    return before + mark


def sentence_case(sentence: str) -> str:
    """Capital first letter, upper-case acronyms and vertebral levels; the rest as it is."""
    s = _ACRONYM.sub(lambda m: m.group(1).upper(), sentence)
    s = _VERTEBRA.sub(lambda m: m.group(1).upper() + m.group(2), s)
    for i, ch in enumerate(s):
        if ch.isalpha():
            return s[:i] + ch.upper() + s[i + 1:]
        if ch.isdigit():
            break
    return s


def _quote(sentence: str, limit: int = 70) -> str:
    return sentence if len(sentence) <= limit else sentence[:limit - 3].rstrip() + "..."


def polarities(sentence: str) -> dict[str, bool]:
    """{label: True (stated or uncertain) / False (negated)} for the labels ``sentence`` mentions."""
    from ctrg_desktop.reports.labeller import Mention, mentions

    return {label: m >= Mention.UNCERTAIN for label, m in mentions(sentence).items() if m != Mention.ABSENT}


def resolve_contradictions(sentences: list[str], observations: Mapping[str, float] | None = None
                           ) -> tuple[list[str], list[str], list[str]]:
    """(kept sentences, dropped sentences, warnings): no label both stated and negated (module docstring)."""
    observations = observations or {}
    polar = [polarities(s) for s in sentences]
    alive = [True] * len(sentences)
    dropped, warnings = [], []
    labels = list(dict.fromkeys(label for p in polar for label in p))
    for label in labels:
        pos = [i for i, p in enumerate(polar) if alive[i] and p.get(label) is True]
        neg = [i for i, p in enumerate(polar) if alive[i] and p.get(label) is False]
        if not pos or not neg:
            continue
        p = observations.get(label)
        keep_positive = p is None or float(p) >= 0.5
        keep, drop = (pos, neg) if keep_positive else (neg, pos)
        why = (f"observation p={float(p):.2f}" if p is not None
               else "no observation for it: the positive statement is kept")
        for i in drop:
            alive[i] = False
            dropped.append(sentences[i])
            warnings.append(f"dropped '{_quote(sentences[i])}' (contradicts '{_quote(sentences[keep[0]])}' "
                            f"on {label}; {why})")
    return [s for s, a in zip(sentences, alive) if a], dropped, warnings


def clean_report(text: str, observations: Mapping[str, float] | None = None, guide=None) -> CleanReport:
    """Raw decoder text -> :class:`CleanReport` (module docstring). ``observations``: {CT-RATE label:
    probability} of the model's observation heads, used to settle contradictions and, with an
    :class:`~ctrg_desktop.reports.observation_guide.ObservationGuide`, to state its labels."""
    from ctrg_desktop.reports.observation_guide import apply_guide

    sentences = [sentence_case(s) for s in split_sentences(detokenize(text))]
    dropped, warnings = [], []
    if sentences and not sentences[-1].endswith(_ENDS):
        cut = sentences.pop()
        dropped.append(cut)
        warnings.append(f"dropped the unfinished last sentence '{_quote(cut)}' (the length budget ran out)")
    seen, unique = set(), []
    for s in sentences:
        key = re.sub(r"\W+", " ", s.lower()).strip()
        if key in seen:
            dropped.append(s)
            warnings.append(f"dropped a repeated sentence '{_quote(s)}'")
        else:
            seen.add(key)
            unique.append(s)
    kept, gone, notes = resolve_contradictions(unique, observations)
    guided, guide_notes = apply_guide(kept, observations, guide)
    return CleanReport(" ".join(guided), dropped + gone, warnings + notes + guide_notes)


def clean_text(text: str, observations: Mapping[str, float] | None = None, guide=None) -> str:
    """Just the text of :func:`clean_report`."""
    return clean_report(text, observations, guide).text
