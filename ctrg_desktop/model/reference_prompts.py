"""Reference reports -> prompt tensors for :class:`~ctrg_desktop.model.fusion.PromptFusion`.

A report gives its sentence embeddings (:func:`ctrg_desktop.reports.parser.split_sentences`,
first ``max_sentences``, embedded by the frozen text encoder) and the labeller's status of each
CT-RATE label (:func:`ctrg_desktop.reports.labeller.mentions`: 0 absent, 1 negated, 2 uncertain,
3 positive). Training reuses the same references step after step, so both are cached per report
text (LRU). An empty report means "no reference": its study keeps its visual tokens.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.reports.labeller import mentions
from ctrg_desktop.reports.parser import split_sentences

#: texts (M) -> (M, text_dim) float embeddings
Encode = Callable[[list[str]], torch.Tensor]


@dataclass
class ReferencePrompts:
    """sentences (B, S, text_dim) float (zeros where padded); sentence_mask (B, S) bool (True =
    a sentence); statuses (B, 18) long; present (B,) bool (the study has a reference)."""

    sentences: torch.Tensor
    sentence_mask: torch.Tensor
    statuses: torch.Tensor
    present: torch.Tensor

    def to(self, device, dtype=None) -> "ReferencePrompts":
        return ReferencePrompts(self.sentences.to(device, dtype), self.sentence_mask.to(device),
                                self.statuses.to(device), self.present.to(device))


def label_statuses(report: str) -> torch.Tensor:
    """(18,) long: the labeller's mention of each CT-RATE label in ``report`` (0..3)."""
    found = mentions(report)
    return torch.tensor([int(found[label]) for label in CT_RATE_LABELS], dtype=torch.long)


class ReferencePromptBuilder:
    """``builder(reports, encode)`` -> :class:`ReferencePrompts` for B report strings ("" = none).

    ``encode``: texts (M) -> (M, text_dim) embeddings (the model's frozen text encoder);
    ``cache_size`` reports are kept (least recently used dropped first)."""

    def __init__(self, text_dim: int, max_sentences: int = 32, cache_size: int = 4096):
        if max_sentences < 1 or cache_size < 1:
            raise ValueError("max_sentences and cache_size must be at least 1")
        self.text_dim = int(text_dim)
        self.max_sentences, self.cache_size = int(max_sentences), int(cache_size)
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()

    def report_prompts(self, report: str, encode: Encode) -> tuple[torch.Tensor, torch.Tensor]:
        """(sentence embeddings (S, text_dim) float32, statuses (18,) long) of one report, cached."""
        if not isinstance(report, str):
            raise ValueError(f"a reference report must be a string, got {type(report).__name__}")
        cached = self._cache.get(report)
        if cached is not None:
            self._cache.move_to_end(report)
            return cached
        sentences = split_sentences(report)[: self.max_sentences]
        embeddings = (encode(sentences).float().cpu() if sentences
                      else torch.zeros(0, self.text_dim))
        if embeddings.shape[-1] != self.text_dim:
            raise ValueError(f"the text encoder gives {embeddings.shape[-1]}-d sentence embeddings, "
                             f"the fusion expects {self.text_dim} (stage1.text_dim)")
        entry = (embeddings, label_statuses(report))
        self._cache[report] = entry
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return entry

    def __call__(self, reports: list[str], encode: Encode) -> ReferencePrompts:
        reports = ["" if r is None else r for r in reports]
        entries = [self.report_prompts(r, encode) for r in reports]
        longest = max([1] + [e[0].shape[0] for e in entries])
        sentences = torch.zeros(len(reports), longest, self.text_dim)
        mask = torch.zeros(len(reports), longest, dtype=torch.bool)
        for i, (emb, _) in enumerate(entries):
            sentences[i, : emb.shape[0]] = emb
            mask[i, : emb.shape[0]] = True
        statuses = torch.stack([e[1] for e in entries]) if entries else torch.zeros(0, len(CT_RATE_LABELS))
        present = torch.tensor([bool(r.strip()) for r in reports], dtype=torch.bool)
        return ReferencePrompts(sentences, mask, statuses.long(), present)
