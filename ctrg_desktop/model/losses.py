"""Stage-1 losses: structure-wise contrastive (Eq. 3), structure-mask attention, observation BCE;
stage 2 with reference fusion: the attention-map consistency (soft IoU, seed REVTAF).

Contrastive: for each structure n, the image feature s_n of a study is scored against the
candidates [the batch's texts of structure n; the queue entries of every structure]. The paper
normalises over the queue entries of all structures; ``other_weight`` scales the other structures'
entries inside the softmax (a weight w adds log w to their logits: 1 = the paper, 0.1 = the
public code, 0 = only structure n's own queue). Targets are one-hot on the study's own text (ITC)
and, for the KL term, the softmax of text-text similarities over the same candidates.
L = (1 - alpha) ITC + alpha KL. All features are L2-normalised before they come here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_MASKED = -1.0e4  # logit for empty or excluded slots: exp() underflows to 0, stays finite in KL


def structure_logits(query: torch.Tensor, texts: torch.Tensor, queue: torch.Tensor | None,
                     queue_mask: torch.Tensor | None, temperature: torch.Tensor | float,
                     other_weight: float = 1.0) -> torch.Tensor:
    """Similarity logits per structure.

    query (B, N, d), texts (B, N, d), queue (N, Q, d) with queue_mask (N, Q) bool (True = filled)
    -> (N, B, B + N*Q): query . [texts of n; queue of structure 0..N-1] / temperature, the other
    structures' entries shifted by log(other_weight); empty slots get a large negative.
    """
    n, q = (queue.shape[0], queue.shape[1]) if queue is not None else (texts.shape[1], 0)
    candidates = texts.transpose(0, 1)  # (N, B, d)
    if queue is not None:
        flat = queue.to(texts.dtype).reshape(1, n * q, -1).expand(n, -1, -1)  # every structure's entries
        candidates = torch.cat([candidates, flat], dim=1)  # (N, B + N*Q, d)
    logits = query.transpose(0, 1) @ candidates.transpose(1, 2) / temperature
    if queue is None:
        return logits
    owner = torch.arange(n, device=logits.device).repeat_interleave(q)  # (N*Q,) structure of each entry
    other = owner.unsqueeze(0) != torch.arange(n, device=logits.device).unsqueeze(1)  # (N, N*Q)
    shift = torch.zeros(n, n * q, device=logits.device, dtype=logits.dtype)
    if other_weight > 0:
        shift = shift.masked_fill(other, math.log(other_weight))
    keep = (queue_mask.reshape(1, n * q).expand(n, -1) if queue_mask is not None
            else torch.ones(n, n * q, dtype=torch.bool, device=logits.device))
    if other_weight == 0:
        keep = keep & ~other
    shift = shift.masked_fill(~keep, _MASKED)
    batch_block = torch.zeros(n, texts.shape[0], device=logits.device, dtype=logits.dtype)
    return logits + torch.cat([batch_block, shift], dim=1).unsqueeze(1)


def contrastive_ce(logits: torch.Tensor) -> torch.Tensor:
    """One-hot cross-entropy, positives on the diagonal of the batch block: (N, B, C) -> scalar."""
    n, b, _ = logits.shape
    target = torch.arange(b, device=logits.device).expand(n, b)
    return F.cross_entropy(logits.reshape(n * b, -1), target.reshape(-1))


def soft_target_kl(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(target_logits) || softmax(logits)), averaged over (N, B): (N, B, C) x2 -> scalar."""
    target = target_logits.softmax(dim=-1)
    log_pred = logits.log_softmax(dim=-1)
    kl = (torch.xlogy(target, target) - target * log_pred).sum(dim=-1)
    return kl.mean()


def structure_contrastive_loss(image: torch.Tensor, texts: torch.Tensor, queue: torch.Tensor | None = None,
                               queue_mask: torch.Tensor | None = None, temperature=0.07, alpha: float = 0.2,
                               use_kl: bool = True, other_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """image (B, N, d), texts (B, N, d) normalised; queue (N, Q, d) + queue_mask (N, Q) or None.

    Returns {"loss", "itc", "kl"}; with ``use_kl`` False (or alpha = 0) the loss is plain ITC.
    The soft targets use the same temperature and carry no gradient.
    """
    logits = structure_logits(image, texts, queue, queue_mask, temperature, other_weight)
    itc = contrastive_ce(logits)
    if not use_kl or alpha == 0:
        return {"loss": itc, "itc": itc, "kl": itc.new_zeros(())}
    with torch.no_grad():
        target_logits = structure_logits(texts, texts, queue, queue_mask, temperature, other_weight)
    kl = soft_target_kl(logits, target_logits)
    return {"loss": (1 - alpha) * itc + alpha * kl, "itc": itc, "kl": kl}


def mask_attention_loss(attention: torch.Tensor, coverage: torch.Tensor, power: float = 2.0,
                        valid: torch.Tensor | None = None) -> torch.Tensor:
    """KL(target || attention) per structure, where the target is coverage ** power normalised.

    attention (B, N, P) rows summing to 1; coverage (B, P, N): the share of each patch's voxels
    inside each structure (:func:`ctrg_desktop.imaging.coverage.patch_fractions`); ``valid``
    (B,) bool: studies that have a label map. Structures absent from a study (zero coverage) are
    left out. Returns the mean over the (study, structure) pairs kept, 0 when there are none.
    """
    target = coverage.transpose(1, 2).to(attention.dtype).clamp_min(0) ** power  # (B, N, P)
    total = target.sum(-1, keepdim=True)
    keep = total.squeeze(-1) > 0  # (B, N)
    if valid is not None:
        keep = keep & valid.to(keep.device).unsqueeze(1)
    if not bool(keep.any()):
        return attention.sum() * 0.0
    target = target / total.clamp_min(1e-12)
    log_attention = attention.clamp_min(1e-8).log()
    kl = (torch.xlogy(target, target) - target * log_attention).sum(-1)  # (B, N)
    return kl[keep].mean()


def observation_loss(logits: torch.Tensor, labels: torch.Tensor,
                     pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of the observation heads, logits and labels (B, L); labels -1 (unknown)
    are left out. ``pos_weight`` (L,) weighs the positives (class balance). 0 when nothing is known."""
    known = labels >= 0
    if not bool(known.any()):
        return logits.sum() * 0.0
    per = F.binary_cross_entropy_with_logits(logits, labels.clamp_min(0).to(logits.dtype),
                                             pos_weight=pos_weight, reduction="none")
    return per[known].mean()


def token_attention_map(tokens: torch.Tensor) -> torch.Tensor:
    """(B, V, d) tokens -> (B, V, V) row-softmax of tokens tokens^T / sqrt(d) (parameter-free)."""
    return (tokens @ tokens.transpose(1, 2) / math.sqrt(tokens.shape[-1])).softmax(dim=-1)


def unit_scale(maps: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Min-max scale each row (last dimension) to [0, 1]; a constant row becomes 0."""
    low = maps.amin(dim=-1, keepdim=True)
    high = maps.amax(dim=-1, keepdim=True)
    return (maps - low) / (high - low).clamp_min(eps)


def soft_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Differentiable IoU of maps in [0, 1] over the last dimension: sum min(a, b) / sum max(a, b)
    (the weighted Jaccard index: 1 for equal maps, whatever their values; the product form
    sum(ab) / (sum a + sum b - sum ab) is below 1 for a map and itself unless it is binary)."""
    return torch.minimum(a, b).sum(-1) / torch.maximum(a, b).sum(-1).clamp_min(eps)


def attention_consistency_loss(plain: torch.Tensor, fused: torch.Tensor,
                               valid: torch.Tensor | None = None) -> torch.Tensor:
    """mean(1 - sigmoid(cos) * soft IoU) between attention maps without and with the prompts.

    plain, fused (B, V, V): row-stochastic maps (:func:`token_attention_map`); the plain map is
    the target (no gradient). Per row: cos of the two rows and the soft IoU of the rows scaled to
    [0, 1] (:func:`unit_scale`); ``valid`` (B,) bool keeps the studies that had prompts.
    Returns the mean over the kept rows (0, with a graph, when none is kept)."""
    plain = plain.detach()
    cos = F.cosine_similarity(plain, fused, dim=-1, eps=1e-8)  # (B, V)
    per_row = 1 - torch.sigmoid(cos) * soft_iou(unit_scale(plain), unit_scale(fused))
    if valid is not None:
        valid = valid.to(per_row.device)
        if not bool(valid.any()):
            return fused.sum() * 0.0
        per_row = per_row[valid]
    return per_row.mean()
