"""The torch twin of :mod:`.hyperbolic` for training: exp map at 0 and the pairwise Poincaré distance.

Same formulas (curvature ``-c``); gradients flow. Imported by :mod:`.retriever` only (torch).
"""

from __future__ import annotations

import torch

BALL_EPS = 1e-5
_ARTANH_MAX = 1 - 1e-6


def project(x: torch.Tensor, c: float) -> torch.Tensor:
    """Clip (..., d) points into the ball of radius (1 - BALL_EPS)/√c."""
    limit = (1 - BALL_EPS) / c ** 0.5
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    return torch.where(norm > limit, x * (limit / norm), x)


def expmap0(v: torch.Tensor, c: float) -> torch.Tensor:
    """exp0_c(v) = tanh(√c |v|) v / (√c |v|) for (..., d) tangent vectors, clipped into the ball."""
    sc = c ** 0.5
    norm = v.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    return project(torch.tanh(sc * norm) * v / (sc * norm), c)


def pairwise_distance(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """(B, R) Poincaré distances d_c(x_i, y_j) of x (B, d), y (R, d) via <x, y> (see
    :func:`.hyperbolic.distances_to_many`)."""
    a2 = (x * x).sum(-1, keepdim=True)          # |a|² with a = -x
    y2 = (y * y).sum(-1)[None, :]
    ay = -(x @ y.T)
    big_a = 1 + 2 * c * ay + c * y2
    big_b = 1 - c * a2
    num = big_a * big_a * a2 + 2 * big_a * big_b * ay + big_b * big_b * y2
    den = (1 + 2 * c * ay + c * c * a2 * y2).clamp_min(1e-15)
    norm = num.clamp_min(1e-15).sqrt() / den
    sc = c ** 0.5
    return (2 / sc) * torch.atanh((sc * norm).clamp(0.0, _ARTANH_MAX))


def mobius_add(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """x ⊕_c y for (..., d) tensors (broadcast)."""
    xy = (x * y).sum(-1, keepdim=True)
    x2 = (x * x).sum(-1, keepdim=True)
    y2 = (y * y).sum(-1, keepdim=True)
    return ((1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y) / (1 + 2 * c * xy + c * c * x2 * y2).clamp_min(1e-15)
