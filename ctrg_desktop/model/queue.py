"""Per-structure queue of past text features for the structure-wise contrastive loss.

ALBEF-style: features, scores and counters live in registered buffers (saved with the model,
moved with ``.to``) and change only in the ``@torch.no_grad()`` :meth:`DiversityQueue.update`.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


class DiversityQueue(nn.Module):
    """``size`` text features of ``dim`` per structure, for ``num_structures`` structures.

    Diversity rule (the paper): a new feature's score is the *sum* of its cosine similarities to
    its structure's queue entries, and each entry keeps the same score against the others (stored,
    updated incrementally, never recomputed). While the queue is not full it is appended; once full
    the entry with the largest score (the most redundant) is replaced when the newcomer's score
    against the entries that stay is lower, else the newcomer is dropped. ``score="max"`` uses the
    largest similarity instead of the sum (stored scores only raised by arrivals; an option, not the
    paper). ``mode="fifo"`` overwrites the oldest entry. ``gather_fn`` maps a local tensor to all
    ranks' tensors (``torch.distributed`` all-gather under DDP); identity by default.
    """

    def __init__(self, num_structures: int, size: int, dim: int, mode: str = "diversity",
                 gather_fn: Callable[[torch.Tensor], torch.Tensor] = _identity, score: str = "sum"):
        super().__init__()
        if mode not in ("diversity", "fifo"):
            raise ValueError(f"queue mode must be 'diversity' or 'fifo', got {mode!r}")
        if score not in ("sum", "max"):
            raise ValueError(f"queue score must be 'sum' or 'max', got {score!r}")
        self.score_rule = score
        if size < 1:
            raise ValueError(f"queue size must be positive, got {size}")
        self.mode, self.gather_fn = mode, gather_fn
        self.register_buffer("features", torch.zeros(num_structures, size, dim))
        self.register_buffer("scores", torch.full((num_structures, size), float("-inf")))
        self.register_buffer("count", torch.zeros(num_structures, dtype=torch.long))
        self.register_buffer("pointer", torch.zeros(num_structures, dtype=torch.long))

    @property
    def size(self) -> int:
        return self.features.shape[1]

    def valid_mask(self) -> torch.Tensor:
        """(num_structures, size) bool: which slots hold a feature."""
        return torch.arange(self.size, device=self.count.device) < self.count.unsqueeze(1)

    def entries(self, structure: int) -> torch.Tensor:
        """The filled entries of one structure: (count, dim)."""
        return self.features[structure][self.valid_mask()[structure]]

    @torch.no_grad()
    def update(self, features: torch.Tensor, structure_ids: torch.Tensor | None = None) -> None:
        """Enqueue ``features`` (B, N, dim) (row n -> structure n) or (M, dim) with ``structure_ids`` (M,)."""
        if features.dim() == 3:
            b, n, _ = features.shape
            structure_ids = torch.arange(n, device=features.device).repeat(b)
            features = features.reshape(b * n, -1)
        elif structure_ids is None:
            raise ValueError("(M, dim) features need structure_ids (M,)")
        features = F.normalize(self.gather_fn(features.detach()).to(self.features.dtype), dim=-1)
        structure_ids = self.gather_fn(structure_ids)
        for feature, sid in zip(features, structure_ids.tolist()):
            if self.mode == "fifo":
                self._push_fifo(sid, feature)
            else:
                self._push_diverse(sid, feature)

    def _push_fifo(self, sid: int, feature: torch.Tensor) -> None:
        slot = int(self.pointer[sid])
        self.features[sid, slot] = feature
        self.pointer[sid] = (slot + 1) % self.size
        self.count[sid] = min(int(self.count[sid]) + 1, self.size)

    def _push_diverse(self, sid: int, feature: torch.Tensor) -> None:
        if self.score_rule == "max":
            self._push_diverse_max(sid, feature)
            return
        filled = int(self.count[sid])
        entries = self.features[sid, :filled]
        sims = entries @ feature  # (filled,)
        if filled < self.size:
            self.scores[sid, :filled] += sims
            self.features[sid, filled] = feature
            self.scores[sid, filled] = sims.sum() if filled else 0.0
            self.count[sid] = filled + 1
            return
        slot = int(self.scores[sid].argmax())
        score = sims.sum() - sims[slot]  # against the entries that would stay
        if score >= self.scores[sid, slot]:
            return
        self.scores[sid] -= entries @ entries[slot]  # the evicted entry leaves every sum
        self.scores[sid] += sims
        self.features[sid, slot] = feature
        self.scores[sid, slot] = score

    def _push_diverse_max(self, sid: int, feature: torch.Tensor) -> None:
        filled = int(self.count[sid])
        sims = self.features[sid, :filled] @ feature  # (filled,)
        score = sims.max() if filled else feature.new_tensor(-1.0)
        if filled < self.size:
            slot = filled
            self.count[sid] = filled + 1
        else:
            slot = int(self.scores[sid].argmax())
            if score >= self.scores[sid, slot]:
                return
        self.scores[sid, :filled] = torch.maximum(self.scores[sid, :filled], sims)
        self.features[sid, slot] = feature
        self.scores[sid, slot] = score
