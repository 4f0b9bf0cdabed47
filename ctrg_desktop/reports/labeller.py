"""Rule-based CT-RATE abnormality labeller with negation and uncertainty handling.

CT-RATE's own labels come from a RadBERT classifier that is not available offline; this
labeller reads CT-RATE-style English reports. Each of the 18 labels has term patterns
(regular expressions) and optional exclusions. A report is split into sentences and
clauses (", but", ";", "whereas", ...); in each clause a term is

* NEGATED when a negation cue precedes it or lies inside a term spanning words ("no", "without",
  "absence of", "neither/nor", "free of": "coronary arteries show no calcification", "lymph nodes
  are not enlarged") or a negating phrase follows it ("was not observed", "is not seen", "absent",
  "ruled out"),
* UNCERTAIN when an uncertainty cue is in the clause ("possible", "suspicious for",
  "cannot be excluded", "may", "questionable", "probable"),
* POSITIVE otherwise.

A label is positive when any clause states it positively (uncertain clauses count as
``uncertain_as``, positive by default, as the field usually maps "uncertain" to 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.reports.parser import split_sentences


class Mention(IntEnum):
    ABSENT = 0
    NEGATED = 1
    UNCERTAIN = 2
    POSITIVE = 3


@dataclass(frozen=True)
class LabelRule:
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()  # a clause matching one of these never counts for the label


_ARTERY = r"(?:aort|(?<!coronary )arter|vascular|carotid|subclavian|brachiocephalic|iliac)"
_LUNG_CONTEXT_EXCLUDE = (r"thyroid", r"breast", r"liver", r"hepatic", r"adrenal", r"kidney",
                         r"renal", r"spleen", r"pancrea", r"lymph")
RULES: dict[str, LabelRule] = {
    "Medical material": LabelRule((
        r"pacemaker", r"\bicd\b", r"defibrillator", r"catheter", r"\bport\b", r"stent",
        r"sternotomy", r"(?:surgical|suture|sternal) (?:wires?|sutures?|clips?)", r"clips?\b",
        r"prosthe", r"(?:nasogastric|endotracheal|tracheostomy|chest|drainage) (?:tube|cannula)",
        r"medical (?:material|device)", r"metallic", r"valve replacement", r"graft")),
    "Arterial wall calcification": LabelRule((
        rf"{_ARTERY}\w*\b[^.;]*(?:calcif|atheroscl|atherom)",
        rf"(?:calcif|atheroscl|atherom)\w*[^.;]*{_ARTERY}")),
    "Cardiomegaly": LabelRule((
        r"cardiomegaly", r"(?:heart|cardiac) (?:size|dimensions?|silhouette) (?:is |was |are )?"
        r"(?:increased|enlarged)", r"(?:heart|cardiac silhouette) (?:is |was )?enlarged",
        r"enlarged heart", r"increased (?:heart|cardiac) size", r"cardiothoracic ratio (?:is |was )?increased")),
    "Pericardial effusion": LabelRule((
        r"pericardial (?:effusion|fluid)", r"effusion[^.;]*pericard", r"fluid[^.;]*pericardi")),
    "Coronary artery wall calcification": LabelRule((
        r"coronar\w*[^.;]*calcif", r"calcif\w*[^.;]*(?:coronar|\blad\b|\brca\b|circumflex)",
        r"\b(?:lad|rca|cx)\b[^.;]*calcif")),
    "Hiatal hernia": LabelRule((r"hiat(?:al|us) hernia",)),
    "Lymphadenopathy": LabelRule((
        r"lymphadenopath", r"(?:enlarged|pathologic(?:al)?(?:ly)?[- ]sized?|prominent|bulky|conglomerat\w*)"
        r" (?:\w+ ){0,3}lymph nodes?", r"lymph nodes?[^.;]*(?:pathological size|enlarged|increased in size"
        r"|short axis (?:of |measuring )?(?:1[0-9]|[2-9][0-9]) ?mm)", r"adenopathy")),
    "Emphysema": LabelRule((r"emphysem", r"bullae\b", r"\bbulla\b")),
    "Atelectasis": LabelRule((r"atelecta",), exclude=(r"fibroatelecta",)),
    "Lung nodule": LabelRule((r"nodul", r"\bnodules?\b", r"micronodul"),
                             exclude=_LUNG_CONTEXT_EXCLUDE),
    "Lung opacity": LabelRule((r"opacit", r"ground[- ]glass", r"density increase",
                               r"increased density", r"infiltrat"), exclude=(r"lymph", r"breast")),
    "Pulmonary fibrotic sequela": LabelRule((r"fibrot", r"fibrosis", r"fibroatelecta",
                                             r"sequel", r"parenchymal band", r"scar")),
    "Pleural effusion": LabelRule((r"pleural (?:effusion|fluid)", r"effusion[^.;]*pleura",
                                   r"fluid[^.;]*(?:pleura|hemithorax|thoracic cavity)"),
                                  exclude=(r"pericard(?![^.;]*pleura)",)),
    "Mosaic attenuation pattern": LabelRule((r"mosaic",)),
    "Peribronchial thickening": LabelRule((r"peribronchial[^.;]*thicken", r"bronchial wall[^.;]*thicken",
                                           r"thicken\w*[^.;]*(?:peribronchial|bronchial wall)")),
    "Consolidation": LabelRule((r"consolidat",)),
    "Bronchiectasis": LabelRule((r"bronchiecta",)),
    "Interlobular septal thickening": LabelRule((r"(?:interlobular )?sept(?:al|a|um)[^.;]*thicken",
                                                 r"thicken\w*[^.;]*interlobular sept")),
}
assert tuple(RULES) == CT_RATE_LABELS

_PRE_NEGATION = re.compile(
    r"\b(?:no|not|without|absence of|absent|free of|negative for|neither|nor|none|"
    r"nor any|rule out|ruled out)\b")
_POST_NEGATION = re.compile(
    r"\b(?:(?:was|were|is|are|has|have been)? ?not (?:\w+ )?(?:observed|detected|seen|noted|"
    r"identified|found|present|evident|visualized|visualised|revealed|demonstrated|shown)|"
    r"(?:is|are|was|were) absent|ruled out|resolved|disappeared)\b")
_UNCERTAIN = re.compile(
    r"\b(?:possible|possibly|suspicious|suspected|suspicion|questionable|probable|probably|"
    r"may|might|cannot be (?:excluded|ruled out)|can not be (?:excluded|ruled out)|"
    r"not excluded|equivocal|likely|differential|versus|vs)\b")
_CLAUSE_SPLIT = re.compile(r";|,? but |,? however,? |,? whereas |,? while |,? although |,? except |"
                           r",? and (?=(?:a|an|there|the|mild|minimal|moderate|several|multiple)\b)")


def clauses(text: str) -> list[str]:
    """Lower-cased clauses of every sentence of ``text``."""
    out = []
    for sentence in split_sentences(text):
        out += [c.strip() for c in _CLAUSE_SPLIT.split(" " + sentence.lower() + " ") if c.strip()]
    return out


def _classify(clause: str, match: re.Match) -> Mention:
    if _UNCERTAIN.search(clause):
        return Mention.UNCERTAIN
    # a term spanning words ("coronar...calcif") may hold its cue: "coronary arteries show no calcification"
    before, after = clause[:match.end()], clause[match.end():]
    if _PRE_NEGATION.search(before) or _POST_NEGATION.search(after):
        return Mention.NEGATED
    return Mention.POSITIVE


def mentions(text: str) -> dict[str, Mention]:
    """The strongest mention of each label over the report (POSITIVE > UNCERTAIN > NEGATED)."""
    result = {label: Mention.ABSENT for label in RULES}
    for clause in clauses(text):
        for label, rule in RULES.items():
            if any(re.search(x, clause) for x in rule.exclude):
                continue
            for term in rule.terms:
                m = re.search(term, clause)
                if m:
                    result[label] = max(result[label], _classify(clause, m))
    return result


def label_report(text: str, uncertain_as: int = 1) -> dict[str, int]:
    """0/1 for each of the 18 CT-RATE labels, in CT-RATE column order."""
    found = mentions(text)
    return {label: int(found[label] == Mention.POSITIVE
                       or (found[label] == Mention.UNCERTAIN and uncertain_as == 1))
            for label in CT_RATE_LABELS}
