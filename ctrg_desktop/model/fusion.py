"""Fusion of a retrieved reference report into the decoder's visual tokens (seed REVTAF).

The decoder reads the visual tokens V = [S; T; O] (B, Vn, d). Two kinds of prompts come from a
reference report (:mod:`ctrg_desktop.model.reference_prompts`):

* global: the report's sentence embeddings from the frozen text encoder (B, S, text_dim),
  projected to d;
* local: one token per CT-RATE label (B, 18, d) = label embedding + its structure's embedding
  + an embedding of the reference's status of it (absent / negated / uncertain / positive).

Each branch lets V attend to its prompts, G = LayerNorm(V + Attn(V, prompts)), and the fused
tokens are F = V + W [G_global; G_local] with W (2d -> d) initialised at zero, so a fused model
starts exactly as the unfused one (the shipped decoder is fine-tuned, not retrained). Studies
without a reference keep F = V.

Attention: optimal transport re-weights the query-key cross-attention. The cost is
C = 1 - cos(q_i, k_j) in [0, 2] (cosine, so that ``epsilon`` has the same meaning at any width),
the kernel exp(-C / epsilon); log-domain Sinkhorn finds the plan P with uniform marginals over
the Vn queries and over the valid keys (every prompt receives the same total attention, so one
dominant sentence cannot absorb all tokens); each row of P is then rescaled to sum to 1 and the
output is P~ v. The softmax twin (the ablation) uses the same kernel normalised over keys only.

Consistency loss (:func:`ctrg_desktop.model.losses.attention_consistency_loss`): the maps are
the visual tokens' own self-attention maps, A(X) = row-softmax(X X^T / sqrt(d)) (B, Vn, Vn),
compared between X = V (without prompts, the target, no gradient) and X = F (with prompts):
mean over tokens of 1 - sigmoid(cos(A_V, A_F)) * softIoU, the soft IoU on rows min-max scaled to
[0, 1]. Why these maps: the decoder has no attention over V of its own (it cross-attends from the
text), so the token-token map is the one attention structure that exists with and without the
prompts; it is parameter-free (the loss cannot be met by moving a projection instead of the
tokens) and says which tokens look alike, so the prompts may add content to V but are kept from
reorganising which regions of the scan go together.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ctrg_desktop.data.labels import CT_RATE_LABELS, LABEL_STRUCTURES
from ctrg_desktop.model.config import FusionConfig
from ctrg_desktop.model.losses import attention_consistency_loss, token_attention_map

#: Reference statuses of a label (the labeller's :class:`~ctrg_desktop.reports.labeller.Mention`).
STATUS_COUNT = 4
#: Relative error of the row sums at which Sinkhorn stops (float32 rounding alone leaves ~2e-6).
TOLERANCE = 1e-5
#: Logit of a masked key: exp() is 0 in float32 and sums stay finite (no NaN in the gradients).
_MASKED = -1.0e9


def cosine_cost(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q (B, Lq, d), k (B, Lk, d) -> cost 1 - cos (B, Lq, Lk) in [0, 2]."""
    return 1 - F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(1, 2)


def _key_mask(key_mask: torch.Tensor | None, cost: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (B, Lk) with rows of no valid key opened up, empty (B,) bool: those rows)."""
    b, _, lk = cost.shape
    if key_mask is None:
        key_mask = torch.ones(b, lk, dtype=torch.bool, device=cost.device)
    key_mask = key_mask.to(device=cost.device, dtype=torch.bool)
    if key_mask.shape != (b, lk):
        raise ValueError(f"key_mask must have shape {(b, lk)}, got {tuple(key_mask.shape)}")
    empty = ~key_mask.any(-1)
    return key_mask | empty[:, None], empty


def sinkhorn_plan(cost: torch.Tensor, key_mask: torch.Tensor | None = None, epsilon: float = 0.05,
                  iterations: int = 100, tolerance: float = TOLERANCE) -> torch.Tensor:
    """Entropic optimal transport, log domain: cost (B, Lq, Lk), key_mask (B, Lk) bool (True =
    valid) -> plan (B, Lq, Lk) with row sums 1/Lq and column sums 1/n_valid (0 on masked keys).

    Stops early when every row sum is within ``tolerance`` (relative) of 1/Lq (the column sums
    are exact after each step; float32 rounding leaves about 2e-6). Computed in float32;
    differentiable through the iterations. A study without a valid key gets a zero plan."""
    if not epsilon > 0 or iterations < 1:
        raise ValueError(f"sinkhorn needs epsilon > 0 and iterations >= 1, got {epsilon}, {iterations}")
    mask, empty = _key_mask(key_mask, cost)
    b, lq, lk = cost.shape
    log_k = (-cost.float() / epsilon).masked_fill(~mask[:, None, :], _MASKED)
    log_a = torch.full((b, lq), -torch.log(torch.tensor(float(lq))).item(), device=cost.device)
    log_b = (-mask.sum(-1, keepdim=True).float().log()).expand(b, lk).masked_fill(~mask, _MASKED)
    log_u, log_v = None, torch.zeros(b, lk, device=cost.device)
    for _ in range(int(iterations)):
        new_u = log_a - torch.logsumexp(log_k + log_v[:, None, :], dim=-1)
        # the row sums of the current plan are exp(log_u - new_u) / Lq: stop when they are all 1 / Lq
        if log_u is not None and float((log_u - new_u).detach().exp().sub(1).abs().max()) < tolerance:
            break
        log_u = new_u
        log_v = log_b - torch.logsumexp(log_k + log_u[:, :, None], dim=1)
    plan = (log_u[:, :, None] + log_k + log_v[:, None, :]).exp()
    keep = mask[:, None, :] & ~empty[:, None, None]
    return (plan * keep).to(cost.dtype)


def _row_normalised(weights: torch.Tensor) -> torch.Tensor:
    return weights / weights.sum(-1, keepdim=True).clamp_min(1e-30)


def sinkhorn_weights(q: torch.Tensor, k: torch.Tensor, key_mask: torch.Tensor | None = None,
                     epsilon: float = 0.05, iterations: int = 100, tolerance: float = TOLERANCE) -> torch.Tensor:
    """(B, Lq, Lk) attention weights: the Sinkhorn plan of the cosine cost, rows rescaled to sum
    to 1 (rows of a study without valid keys are 0)."""
    return _row_normalised(sinkhorn_plan(cosine_cost(q, k), key_mask, epsilon, iterations, tolerance))


def softmax_weights(q: torch.Tensor, k: torch.Tensor, key_mask: torch.Tensor | None = None,
                    epsilon: float = 0.05) -> torch.Tensor:
    """(B, Lq, Lk) the same kernel exp(-C / epsilon) normalised over the valid keys only."""
    cost = cosine_cost(q, k)
    mask, empty = _key_mask(key_mask, cost)
    weights = (-cost / epsilon).masked_fill(~mask[:, None, :], _MASKED).softmax(dim=-1)
    return weights * (mask[:, None, :] & ~empty[:, None, None])


def sinkhorn_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None = None,
                       epsilon: float = 0.05, iterations: int = 100, tolerance: float = TOLERANCE) -> torch.Tensor:
    """q (B, Lq, d), k (B, Lk, d), v (B, Lk, dv), key_mask (B, Lk) -> (B, Lq, dv) (optimal transport)."""
    return sinkhorn_weights(q, k, key_mask, epsilon, iterations, tolerance).to(v.dtype) @ v


def softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None = None,
                      epsilon: float = 0.05) -> torch.Tensor:
    """The softmax twin of :func:`sinkhorn_attention` (same kernel, rows normalised only)."""
    return softmax_weights(q, k, key_mask, epsilon).to(v.dtype) @ v


class PromptAttention(nn.Module):
    """One branch: ``forward(x (B, Vn, d), prompts (B, L, d), mask (B, L) | None)`` ->
    LayerNorm(x + Attn(q(x), k(prompts), v(prompts))) (B, Vn, d)."""

    def __init__(self, dim: int, config: FusionConfig):
        super().__init__()
        self.config = config
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, prompts: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        q, k, v = self.query(x), self.key(prompts), self.value(prompts)
        if c.attention == "sinkhorn":
            attended = sinkhorn_attention(q, k, v, mask, c.epsilon, c.iterations)
        else:
            attended = softmax_attention(q, k, v, mask, c.epsilon)
        return self.norm(x + attended)


@dataclass
class FusionOutput:
    """tokens (B, Vn, d): the fused visual tokens; consistency: scalar loss or None."""

    tokens: torch.Tensor
    consistency: torch.Tensor | None = None


def _label_structures() -> tuple[list[int], int]:
    """Index of each CT-RATE label's structure among the distinct structures (first-seen order)."""
    names = list(dict.fromkeys(LABEL_STRUCTURES[label] for label in CT_RATE_LABELS))
    return [names.index(LABEL_STRUCTURES[label]) for label in CT_RATE_LABELS], len(names)


class PromptFusion(nn.Module):
    """``PromptFusion(config, dim, text_dim)``; ``forward(visual (B, Vn, dim), prompts)`` with
    :class:`~ctrg_desktop.model.reference_prompts.ReferencePrompts` -> :class:`FusionOutput`."""

    def __init__(self, config: FusionConfig, dim: int, text_dim: int):
        super().__init__()
        self.config = config
        branches = 0
        self.global_proj = self.global_attention = None
        self.local_attention = None
        if config.global_prompts:
            self.global_proj = nn.Sequential(nn.Linear(text_dim, dim), nn.LayerNorm(dim))
            self.global_attention = PromptAttention(dim, config)
            branches += 1
        if config.local_prompts:
            structure_of_label, count = _label_structures()
            self.register_buffer("structure_of_label", torch.tensor(structure_of_label), persistent=False)
            self.label_embedding = nn.Parameter(torch.randn(len(CT_RATE_LABELS), dim) * 0.02)
            self.structure_embedding = nn.Parameter(torch.randn(count, dim) * 0.02)
            self.status_embedding = nn.Parameter(torch.randn(STATUS_COUNT, dim) * 0.02)
            self.local_attention = PromptAttention(dim, config)
            branches += 1
        self.out = nn.Linear(branches * dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def local_prompts(self, statuses: torch.Tensor) -> torch.Tensor:
        """statuses (B, 18) long in [0, 4) -> (B, 18, dim): label + structure + status embeddings."""
        if statuses.shape[-1] != len(CT_RATE_LABELS) or int(statuses.min()) < 0 or int(statuses.max()) >= STATUS_COUNT:
            raise ValueError(f"statuses must be (B, {len(CT_RATE_LABELS)}) values in [0, {STATUS_COUNT})")
        fixed = self.label_embedding + self.structure_embedding[self.structure_of_label]
        return fixed + self.status_embedding[statuses]

    def forward(self, visual: torch.Tensor, prompts, with_consistency: bool = True) -> FusionOutput:
        prompts = prompts.to(visual.device, visual.dtype)
        if prompts.present.shape[0] != visual.shape[0]:
            raise ValueError(f"{prompts.present.shape[0]} reference prompts for {visual.shape[0]} studies")
        parts = []
        if self.global_attention is not None:
            sentences = self.global_proj(prompts.sentences)
            parts.append(self.global_attention(visual, sentences, prompts.sentence_mask))
        if self.local_attention is not None:
            parts.append(self.local_attention(visual, self.local_prompts(prompts.statuses)))
        delta = self.out(torch.cat(parts, dim=-1))
        fused = visual + delta * prompts.present[:, None, None].to(delta.dtype)
        consistency = None
        if with_consistency:
            consistency = attention_consistency_loss(token_attention_map(visual), token_attention_map(fused),
                                                     prompts.present)
        return FusionOutput(fused, consistency)

    @torch.no_grad()
    def reset_output(self) -> None:
        """Zero the output layer: the fused tokens equal the visual tokens again."""
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
