"""Observation heads: the 18 CT-RATE labels read from the structure observer (seed DCRRG, step 1).

Label l belongs to structure n(l) (:data:`ctrg_desktop.data.labels.LABEL_STRUCTURES`). Its head
pools the patch values with its own attention, restricted to where structure n(l) looks:

    w_l = softmax(log A_n(l) + (V U) u_l / sqrt(h))        (P,)  A: the observer's attention
    z_l = MLP([S_n(l); w_l V])                              logit of label l

so a small finding (a nodule) is not averaged away by the structure token, and the head reads
only the region its structure attends to. Optionally the decoder also reads one token per label,
``e_l + sigmoid(z_l) (p_l - e_l)``, a learnt "absent" and "present" embedding mixed by the
probability (the observation prompt of DCRRG), so the report can follow what the heads believe.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ctrg_desktop.data.labels import CT_RATE_LABELS, LABEL_STRUCTURES


def label_structure_indices(structure_names) -> list[int]:
    """Index of each CT-RATE label's structure in ``structure_names`` (ValueError if one is missing)."""
    names = list(structure_names)
    missing = sorted({LABEL_STRUCTURES[l] for l in CT_RATE_LABELS} - set(names))
    if missing:
        raise ValueError(f"the structure set lacks {missing}, which report CT-RATE labels")
    return [names.index(LABEL_STRUCTURES[label]) for label in CT_RATE_LABELS]


class ObservationHeads(nn.Module):
    """``forward(tokens (B, N, d), attention (B, N, P), values (B, P, d))`` -> logits (B, L).

    ``structure_of_label``: L structure indices. :meth:`decoder_tokens` gives the (B, L, d)
    observation tokens for the decoder from the logits.
    """

    def __init__(self, dim: int, hidden: int, structure_of_label: list[int]):
        super().__init__()
        count = len(structure_of_label)
        self.register_buffer("structure_of_label", torch.tensor(structure_of_label, dtype=torch.long),
                             persistent=False)
        self.key = nn.Linear(dim, hidden, bias=False)
        self.label_queries = nn.Parameter(torch.randn(count, hidden) * 0.02)
        self.scale = 1.0 / math.sqrt(hidden)
        self.norm = nn.LayerNorm(2 * dim)
        self.hidden = nn.Linear(2 * dim, hidden)
        # One output unit per label (grouped linear): weights (L, hidden), bias (L,).
        self.out_weight = nn.Parameter(torch.randn(count, hidden) * 0.02)
        self.out_bias = nn.Parameter(torch.zeros(count))
        self.absent = nn.Parameter(torch.randn(count, dim) * 0.02)
        self.present = nn.Parameter(torch.randn(count, dim) * 0.02)

    def pooling_weights(self, attention: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """(B, L, P): each label's attention over the patches, inside its structure's attention."""
        prior = attention[:, self.structure_of_label].clamp_min(1e-8).log()  # (B, L, P)
        scores = self.label_queries @ self.key(values).transpose(1, 2) * self.scale  # (B, L, P)
        return (prior + scores).softmax(dim=-1)

    def forward(self, tokens: torch.Tensor, attention: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        pooled = self.pooling_weights(attention, values) @ values  # (B, L, d)
        features = torch.cat([tokens[:, self.structure_of_label], pooled], dim=-1)
        hidden = torch.nn.functional.gelu(self.hidden(self.norm(features)))  # (B, L, h)
        return (hidden * self.out_weight).sum(-1) + self.out_bias

    def decoder_tokens(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, L) logits -> (B, L, d) tokens: absent + p (present - absent)."""
        p = logits.sigmoid().unsqueeze(-1)
        return self.absent + p * (self.present - self.absent)
