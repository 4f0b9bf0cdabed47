"""CT-ViT-style 3D vision transformer (as in GenerateCT / CT-CLIP).

A volume ``(B, 1, D, H, W)`` is cut into tubelets of (pd, ph, pw) voxels, embedded
(LayerNorm -> Linear -> LayerNorm), then a spatial transformer runs over each slab's h*w tokens
and a temporal transformer over the t slabs. Every layer adds a depthwise 3x3x3 convolution of
the token grid (position generator) before attention; spatial attention gets a continuous
position bias from the tokens' (dy, dx) offsets. Output: patch features ``(B, P, dim)`` with
P = t*h*w in C order over (pk, pj, pi), the numbering of :class:`ctrg_desktop.imaging.PatchGrid`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ctrg_desktop.model.config import EncoderConfig


class GEGLU(nn.Module):
    """Feed-forward with a GELU-gated linear unit: (B, L, dim) -> (B, L, dim)."""

    def __init__(self, dim: int, mult: int, dropout: float):
        super().__init__()
        inner = dim * mult
        self.norm = nn.LayerNorm(dim)
        self.proj_in = nn.Linear(dim, inner * 2, bias=False)
        self.proj_out = nn.Sequential(nn.Dropout(dropout), nn.Linear(inner, dim, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj_in(self.norm(x)).chunk(2, dim=-1)
        return self.proj_out(value * F.gelu(gate))


class ContinuousPositionBias(nn.Module):
    """Per-head attention bias ``(heads, h*w, h*w)`` from an MLP over signed-log (dy, dx) offsets."""

    def __init__(self, heads: int, hidden: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, heads))

    def forward(self, h: int, w: int) -> torch.Tensor:
        device = self.mlp[0].weight.device
        offsets = torch.stack(torch.meshgrid(torch.arange(-h + 1, h, device=device),
                                             torch.arange(-w + 1, w, device=device),
                                             indexing="ij"), dim=-1).float()  # (2h-1, 2w-1, 2)
        table = self.mlp(torch.sign(offsets) * torch.log1p(offsets.abs()))  # (2h-1, 2w-1, heads)
        pos = torch.stack(torch.meshgrid(torch.arange(h, device=device),
                                         torch.arange(w, device=device), indexing="ij"), -1)
        rel = pos.reshape(-1, 1, 2) - pos.reshape(1, -1, 2) + torch.tensor([h - 1, w - 1], device=device)
        return table[rel[..., 0], rel[..., 1]].permute(2, 0, 1)  # (heads, hw, hw)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention: (B, L, dim) [+ bias (heads, L, L)] -> (B, L, dim)."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * heads * head_dim, bias=False)
        self.out = nn.Linear(heads * head_dim, dim, bias=False)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        b, length, _ = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)
        return self.out(out.transpose(1, 2).reshape(b, length, -1))


class TransformerLayer(nn.Module):
    """Position generator (depthwise 3x3x3 conv on the token grid) -> attention -> GEGLU."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        dim = config.dim
        self.peg = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.attn = Attention(dim, config.heads, config.head_dim, config.dropout)
        self.ff = GEGLU(dim, config.ff_mult, config.dropout)

    def forward(self, grid: torch.Tensor, spatial: bool, bias: torch.Tensor | None = None):
        """grid (B, t, h, w, dim) -> (B, t, h, w, dim); attention within slabs or along t."""
        b, t, h, w, dim = grid.shape
        grid = grid + self.peg(grid.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
        if spatial:
            tokens = grid.reshape(b * t, h * w, dim)
        else:
            tokens = grid.permute(0, 2, 3, 1, 4).reshape(b * h * w, t, dim)
        tokens = tokens + self.attn(tokens, bias)
        tokens = tokens + self.ff(tokens)
        if spatial:
            return tokens.view(b, t, h, w, dim)
        return tokens.view(b, h, w, t, dim).permute(0, 3, 1, 2, 4)


#: HU bin edges of :class:`PatchIntensity` (air, emphysema, lung, ground glass, fat, soft tissue,
#: contrast, calcification/bone; the window's clip bounds close the first and last bins).
INTENSITY_EDGES_HU = (-950.0, -900.0, -800.0, -650.0, -450.0, -250.0, -100.0, -30.0, 30.0, 100.0, 180.0)


class PatchIntensity(nn.Module):
    """Tubelets (B, t, h, w, V) of windowed HU -> (B, t, h, w, dim): a linear map of each patch's
    HU histogram (log1p(count) / log1p(V) per bin, so one calcified voxel of 2048 still shows)
    plus its mean, standard deviation, minimum and maximum."""

    def __init__(self, window, dim: int):
        super().__init__()
        edges = torch.tensor(window.normalise(np.array(INTENSITY_EDGES_HU, dtype=np.float32)))
        self.register_buffer("edges", edges, persistent=False)
        self.proj = nn.Linear(len(INTENSITY_EDGES_HU) + 1 + 4, dim)

    def features(self, tubelets: torch.Tensor) -> torch.Tensor:
        """(B, t, h, w, V) -> (B, t, h, w, bins + 4)."""
        voxels = tubelets.shape[-1]
        at_least = torch.stack([(tubelets >= e).sum(-1) for e in self.edges], dim=-1).to(tubelets.dtype)
        full = torch.full_like(at_least[..., :1], voxels)
        counts = torch.cat([full, at_least], -1) - torch.cat([at_least, torch.zeros_like(full)], -1)
        hist = torch.log1p(counts) / math.log1p(voxels)
        stats = torch.stack([tubelets.mean(-1), tubelets.std(-1), tubelets.amin(-1), tubelets.amax(-1)], dim=-1)
        return torch.cat([hist, stats], dim=-1)

    def forward(self, tubelets: torch.Tensor) -> torch.Tensor:
        return self.proj(self.features(tubelets))


class VolumeEncoder(nn.Module):
    """(B, 1, D, H, W) or (B, D, H, W) volume -> patch features (B, t*h*w, dim)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        pd, ph, pw = config.patch
        self.patch_embed = nn.Sequential(nn.LayerNorm(pd * ph * pw), nn.Linear(pd * ph * pw, config.dim),
                                         nn.LayerNorm(config.dim))
        self.spatial = nn.ModuleList(TransformerLayer(config) for _ in range(config.spatial_depth))
        self.temporal = nn.ModuleList(TransformerLayer(config) for _ in range(config.temporal_depth))
        self.position_bias = ContinuousPositionBias(config.heads) if config.position_bias else None
        self.norm = nn.LayerNorm(config.dim)
        self.intensity = PatchIntensity(config.hu_window, config.dim) if config.intensity_features else None

    def patchify(self, volume: torch.Tensor) -> torch.Tensor:
        """(B, 1, D, H, W) -> tubelets (B, t, h, w, pd*ph*pw)."""
        if volume.dim() == 4:
            volume = volume.unsqueeze(1)
        if tuple(volume.shape[-3:]) != self.config.input_shape:
            raise ValueError(f"volume shape {tuple(volume.shape[-3:])} does not match the encoder's "
                             f"input shape {self.config.input_shape}")
        (t, h, w), (pd, ph, pw) = self.config.grid.counts, self.config.patch
        x = volume.reshape(volume.shape[0], t, pd, h, ph, w, pw)
        return x.permute(0, 1, 3, 5, 2, 4, 6).reshape(volume.shape[0], t, h, w, pd * ph * pw)

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        tubelets = self.patchify(volume)
        grid = self.patch_embed(tubelets)
        if self.intensity is not None:
            grid = grid + self.intensity(tubelets)
        b, t, h, w, dim = grid.shape
        bias = self.position_bias(h, w) if self.position_bias is not None else None
        for layer in self.spatial:
            grid = layer(grid, spatial=True, bias=bias)
        for layer in self.temporal:
            grid = layer(grid, spatial=False)
        return self.norm(grid.reshape(b, t * h * w, dim))
