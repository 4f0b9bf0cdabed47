"""Test helper: a DraftReport built exactly as ``draft_report`` builds one, from a given report text."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.inference import DraftReport, StructureDraft
from ctrg_desktop.reports import load_structure_set, parse_report

REPORT = ("Trachea and both main bronchi are open. There is a 6 mm nodule in the right lung upper lobe. "
          "It measures 6 mm in diameter. Heart size is normal. Degenerative changes in the thoracic spine. "
          "Pleural effusion at the lung base. A catheter is seen.")


def make_draft(text: str = REPORT, structure_set: str = "chest_ct") -> DraftReport:
    """Route ``text`` with ``structure_set`` into a DraftReport (no model: the text stands for its output)."""
    structures = load_structure_set(structure_set)
    parsed = parse_report(text, structures)
    drafts = []
    for i, s in enumerate(structures.structures):
        sentences = [x.text for x in parsed.sentences if i in x.structures]
        drafts.append(StructureDraft(index=i, name=s.name, colour=s.colour, sentences=sentences,
                                     text=" ".join(sentences) or structures.default_sentence(i),
                                     mentioned=bool(sentences), top_patches=[]))
    model = {"name": "demo", "folder": "/home/someone/models/demo", "version": "0123456789ab",
             "config_hash": "ba9876543210", "structure_set": structure_set, "tokenizer": "minilm"}
    return DraftReport(model=model, study={}, preprocessing={"num_patches": 4}, generation={}, device="cpu",
                       report=text, structures=drafts, timings={"total": 0.0},
                       attention=np.zeros((len(structures), 4), np.float32))
