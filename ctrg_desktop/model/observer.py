"""Structure observer: N learnable queries attend over the patch features.

Returns structure tokens S, the attention of each structure over the patches, and the top-K
patches per structure (indices into the :class:`ctrg_desktop.imaging.PatchGrid` numbering and
their embeddings T). The decoder reads [S; T]: N + N*K visual tokens instead of all P patches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ctrg_desktop.model.config import ObserverConfig


@dataclass
class ObserverOutput:
    """tokens (B, N, dim); attention (B, N, P); topk_indices (B, N, K); topk_features (B, N, K, dim);
    values (B, P, dim): the patch values the tokens are averages of."""

    tokens: torch.Tensor
    attention: torch.Tensor
    topk_indices: torch.Tensor
    topk_features: torch.Tensor
    values: torch.Tensor | None = None


def select_top_patches(attention: torch.Tensor, features: torch.Tensor, k: int):
    """The ``k`` most attended patches per structure.

    attention (B, N, P), features (B, P, dim) -> indices (B, N, k) sorted by decreasing
    attention, embeddings (B, N, k, dim) with ``embeddings[b, n, j] = features[b, indices[b, n, j]]``.
    ``k = 0`` gives empty (B, N, 0) and (B, N, 0, dim) tensors (structure tokens only).
    """
    if not 0 <= k <= attention.shape[-1]:
        raise ValueError(f"top_k={k} must lie in [0, {attention.shape[-1]}] (the number of patches)")
    indices = attention.topk(k, dim=-1).indices
    b, n, _ = indices.shape
    batch = torch.arange(b, device=features.device).view(b, 1, 1)
    return indices, features[batch, indices]


class PaperObserver(nn.Module):
    """A = softmax(Q W0 (F W1)^T / sqrt(d)), S = A (F W2); T gathered from F W2."""

    def __init__(self, config: ObserverConfig, in_dim: int):
        super().__init__()
        self.scale = 1.0 / math.sqrt(config.dim)
        self.w0 = nn.Linear(config.dim, config.dim, bias=False)
        self.w1 = nn.Linear(in_dim, config.dim, bias=False)
        self.w2 = nn.Linear(in_dim, config.dim, bias=False)

    def forward(self, queries: torch.Tensor, features: torch.Tensor):
        """queries (N, dim), features (B, P, in_dim) -> S (B, N, dim), A (B, N, P), values (B, P, dim)."""
        logits = self.w0(queries) @ self.w1(features).transpose(1, 2) * self.scale
        attention = logits.softmax(dim=-1)
        values = self.w2(features)
        return attention @ values, attention, values


class BertObserverLayer(nn.Module):
    """Post-norm BERT layer for queries: self-attn -> cross-attn to patches -> FFN."""

    def __init__(self, config: ObserverConfig):
        super().__init__()
        dim, heads, drop = config.dim, config.heads, config.dropout
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=drop, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=drop, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(drop))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))

    def forward(self, x: torch.Tensor, patches: torch.Tensor):
        """x (B, N, dim), patches (B, P, dim) -> x (B, N, dim), attention (B, heads, N, P)."""
        x = self.norms[0](x + self.self_attn(x, x, x, need_weights=False)[0])
        out, attention = self.cross_attn(x, patches, patches, average_attn_weights=False)
        x = self.norms[1](x + out)
        return self.norms[2](x + self.ff(x)), attention


class BertObserver(nn.Module):
    """The public code's observer: patches projected to ``dim``, ``layers`` BERT-style layers.

    Its attention map is the last layer's cross-attention, max over heads (rows need not sum to 1).
    """

    def __init__(self, config: ObserverConfig, in_dim: int):
        super().__init__()
        self.patch_proj = nn.Linear(in_dim, config.dim)
        self.layers = nn.ModuleList(BertObserverLayer(config) for _ in range(config.layers))

    def forward(self, queries: torch.Tensor, features: torch.Tensor):
        patches = self.patch_proj(features)
        x = queries.unsqueeze(0).expand(features.shape[0], -1, -1)
        for layer in self.layers:
            x, attention = layer(x, patches)
        return x, attention.amax(dim=1), patches


class StructureObserver(nn.Module):
    """Patch features (B, P, in_dim) -> :class:`ObserverOutput` for ``num_structures`` queries."""

    def __init__(self, config: ObserverConfig, in_dim: int):
        super().__init__()
        self.config = config
        self.queries = nn.Parameter(torch.randn(config.num_structures, config.dim) * config.query_init)
        kinds = {"paper": PaperObserver, "bert": BertObserver}
        self.attend = kinds[config.kind](config, in_dim)

    def forward(self, features: torch.Tensor) -> ObserverOutput:
        tokens, attention, values = self.attend(self.queries, features)
        indices, top = select_top_patches(attention, values, self.config.top_k)
        return ObserverOutput(tokens, attention, indices, top, values)
