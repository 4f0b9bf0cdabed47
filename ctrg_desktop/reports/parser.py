"""Report parsing: sentence splitting that survives decimals, sizes and dates, and routing of
each sentence to the structures whose keywords it contains (several allowed; never dropped)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctrg_desktop.reports.structures import StructureSet

_ABBREVIATIONS = ("e.g.", "i.e.", "approx.", "vs.", "dr.", "no.", "cf.", "etc.")
_CONTINUATIONS = ("and ", "however", "it ", "its ", "which", "the size", "this ", "these ",
                  "they ", "also ", "in addition", "additionally", "of which", "measuring")


def split_sentences(text: str) -> list[str]:
    """Split on '.', '!', '?' and line breaks, re-joining pieces that do not start with a space.

    "A 23x16.5 mm nodule. Dated 26.02.2015." -> ["A 23x16.5 mm nodule.", "Dated 26.02.2015."];
    abbreviations such as "e.g." do not end a sentence.
    """
    sentences: list[str] = []
    for line in re.split(r"[\r\n]+", text or ""):
        pieces = re.split(r"(?<=[.!?])", line)
        current = ""
        for piece in pieces:
            if not piece:
                continue
            joins = current and not piece[:1].isspace()
            ends_in_abbrev = current.lower().rstrip().endswith(_ABBREVIATIONS)
            if current and not joins and not ends_in_abbrev:
                sentences.append(current.strip())
                current = piece
            else:
                current += piece
        if current.strip():
            sentences.append(current.strip())
    return [s for s in sentences if re.search(r"\w", s)]


def _normalise(sentence: str) -> str:
    """Lower case, punctuation to spaces, padded, so ' rib' and ' bronchi ' match at edges."""
    return " " + re.sub(r"[.,;:()!?\[\]]", " ", sentence.lower()) + " "


def match_structures(sentence: str, structures: StructureSet) -> list[int]:
    """Indices of structures with a keyword in ``sentence``; ``others`` only if nothing else."""
    text = _normalise(sentence)
    hits = [i for i, s in enumerate(structures.structures)
            if any(k.lower() in text for k in s.keywords)]
    real = [i for i in hits if i != structures.others_index]
    return real or hits


@dataclass(frozen=True)
class Sentence:
    text: str
    structures: tuple[int, ...]
    matched: bool  # False when routed by continuation or to "others" for lack of a keyword


@dataclass
class ParsedReport:
    sentences: list[Sentence]
    structure_set: StructureSet

    def texts_by_structure(self, with_defaults: bool = True) -> list[str]:
        """One text per structure (sentences joined in report order); defaults where empty."""
        out = []
        for i in range(len(self.structure_set)):
            text = " ".join(s.text for s in self.sentences if i in s.structures)
            if not text and with_defaults:
                text = self.structure_set.default_sentence(i)
            out.append(text)
        return out

    def mentioned(self) -> list[int]:
        return sorted({i for s in self.sentences for i in s.structures})


def parse_report(text: str, structures: StructureSet) -> ParsedReport:
    """Split ``text`` and route every sentence; unmatched ones continue the previous sentence's
    structures when they obviously continue it, else go to ``others``."""
    parsed: list[Sentence] = []
    for sentence in split_sentences(text):
        hits = match_structures(sentence, structures)
        if hits:
            parsed.append(Sentence(sentence, tuple(hits), True))
            continue
        prev = parsed[-1] if parsed else None
        continues = prev is not None and (sentence.lower().startswith(_CONTINUATIONS)
                                          or prev.text.rstrip().endswith(","))
        target = prev.structures if continues else (structures.others_index,)
        parsed.append(Sentence(sentence, tuple(target), False))
    return ParsedReport(parsed, structures)
