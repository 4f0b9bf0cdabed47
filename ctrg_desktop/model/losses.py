"""Structure-wise image -> text contrastive loss with queue and soft (text-text) targets.

For each structure n, the image feature s_n of a study is scored against the candidates
[the batch's texts of structure n; the queue entries of structure n]. Targets are one-hot on
the study's own text (ITC) and, for the KL term, the softmax of text-text similarities.
L = (1 - alpha) ITC + alpha KL. All features are L2-normalised before they come here.
"""

from __future__ import annotations

import torch

_MASKED = -1.0e4  # logit for empty queue slots: exp() underflows to 0, stays finite in KL


def structure_logits(query: torch.Tensor, texts: torch.Tensor, queue: torch.Tensor | None,
                     queue_mask: torch.Tensor | None, temperature: torch.Tensor | float) -> torch.Tensor:
    """Similarity logits per structure.

    query (B, N, d), texts (B, N, d), queue (N, Q, d) with queue_mask (N, Q) bool (True = filled)
    -> (N, B, B + Q) = query . [texts; queue] / temperature; empty slots get a large negative.
    """
    candidates = texts.transpose(0, 1)  # (N, B, d)
    if queue is not None:
        candidates = torch.cat([candidates, queue.to(texts.dtype)], dim=1)  # (N, B + Q, d)
    logits = query.transpose(0, 1) @ candidates.transpose(1, 2) / temperature
    if queue is not None and queue_mask is not None:
        keep = torch.cat([queue_mask.new_ones(queue_mask.shape[0], texts.shape[0]), queue_mask], dim=1)
        logits = logits.masked_fill(~keep.unsqueeze(1), _MASKED)
    return logits


def contrastive_ce(logits: torch.Tensor) -> torch.Tensor:
    """One-hot cross-entropy, positives on the diagonal of the batch block: (N, B, C) -> scalar."""
    n, b, _ = logits.shape
    target = torch.arange(b, device=logits.device).expand(n, b)
    return torch.nn.functional.cross_entropy(logits.reshape(n * b, -1), target.reshape(-1))


def soft_target_kl(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(target_logits) || softmax(logits)), averaged over (N, B): (N, B, C) x2 -> scalar."""
    target = target_logits.softmax(dim=-1)
    log_pred = logits.log_softmax(dim=-1)
    kl = (torch.xlogy(target, target) - target * log_pred).sum(dim=-1)
    return kl.mean()


def structure_contrastive_loss(image: torch.Tensor, texts: torch.Tensor, queue: torch.Tensor | None = None,
                               queue_mask: torch.Tensor | None = None, temperature=0.07, alpha: float = 0.2,
                               use_kl: bool = True) -> dict[str, torch.Tensor]:
    """image (B, N, d), texts (B, N, d) normalised; queue (N, Q, d) + queue_mask (N, Q) or None.

    Returns {"loss", "itc", "kl"}; with ``use_kl`` False (or alpha = 0) the loss is plain ITC.
    The soft targets use the same temperature and carry no gradient.
    """
    logits = structure_logits(image, texts, queue, queue_mask, temperature)
    itc = contrastive_ce(logits)
    if not use_kl or alpha == 0:
        return {"loss": itc, "itc": itc, "kl": itc.new_zeros(())}
    with torch.no_grad():
        target_logits = structure_logits(texts, texts, queue, queue_mask, temperature)
    kl = soft_target_kl(logits, target_logits)
    return {"loss": (1 - alpha) * itc + alpha * kl, "itc": itc, "kl": kl}
