"""Report model: structure sets with keywords, sentence splitting and routing."""

from ctrg_desktop.reports.parser import ParsedReport, Sentence, parse_report, split_sentences
from ctrg_desktop.reports.structures import Structure, StructureSet, load_structure_set

__all__ = ["ParsedReport", "Sentence", "Structure", "StructureSet", "load_structure_set",
           "parse_report", "split_sentences"]
